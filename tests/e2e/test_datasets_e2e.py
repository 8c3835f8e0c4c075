"""Upload -> profile -> HPO job on the uploaded CSV, over REST, with a real worker process
on real Redis and Postgres."""

import time

import numpy as np
import pytest

from automl.datasets.models import Dataset
from tests.support.data import churn_csv
from workers.models.artifacts import load_model, load_transformer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_profiled(api, dataset_id: int, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        detail = api.get(f"/api/v1/datasets/{dataset_id}/")
        if detail["profile_status"] != "pending":
            return detail
        time.sleep(0.3)
    raise AssertionError(f"data set {dataset_id} still pending after {timeout_s}s")


def test_upload_profile_and_search_an_uploaded_csv(workers, api, settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.DATASET_PROFILE_INLINE_BYTES = 1000  # this file goes to the worker's task
    workers.start(ARTIFACT_ROOT=str(settings.ARTIFACT_ROOT))

    dataset = api.upload("churn.csv", churn_csv(), target="churned")
    assert dataset["profile_status"] == "pending"
    assert (dataset["task"], dataset["n_rows"]) == ("classification", 160)
    detail = wait_profiled(api, dataset["id"])
    assert detail["profile_status"] == "ready", detail["profile_error"]
    kinds = {c["name"]: c["kind"] for c in detail["profile"]["columns"]}
    assert kinds == {
        "tenure": "numeric",
        "plan": "categorical",
        "signed_up": "datetime",
        "monthly": "numeric",
        "churned": "boolean",
    }
    assert detail["profile"]["columns"][3]["missing"] == 15

    job = api.submit(
        "hpo",
        dataset["id"],
        {
            "model": "random_forest",
            "n_trials": 4,
            "sampler": {"name": "random", "seed": 0},
            "preprocessing": {
                "imputation": "median",
                "polynomial": "search",
                "datetime_parts": "search",
            },
        },
    )
    job = api.wait_finished(job["id"])

    assert job["status"] == "succeeded", job["error_message"]
    assert len(api.all_trials(job["id"])) == 4
    refit = job["result"]["refit"]
    assert refit["test_metrics"]["accuracy"] > 0.8
    assert {"fe.polynomial", "fe.datetime_parts"} <= set(refit["params"])
    assert "preprocessing.skops" in refit["files"]
    # The saved preprocessing turns raw rows into the model's features, as in training.
    directory = settings.ARTIFACT_ROOT / "jobs" / str(job["id"]) / "best"
    model, transformer = load_model(directory), load_transformer(directory)
    rows = np.array(
        [["50", "basic", "2023-05-05", "20.3"], ["5", "basic", None, "19.8"]], dtype=object
    )
    assert model.predict(transformer.transform(rows)).tolist() == [0, 1]  # no, yes

    # A data set that a job used is kept.
    response = api.session.delete(f"{api.base}/api/v1/datasets/{dataset['id']}/", timeout=10)
    assert response.status_code == 409
    assert Dataset.objects.filter(id=dataset["id"]).exists()


def test_the_same_through_the_pages(workers, django_user_model, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from automl.jobs.models import Job

    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    workers.start(ARTIFACT_ROOT=str(settings.ARTIFACT_ROOT))
    browser = Client()
    browser.force_login(django_user_model.objects.create_user("ana", password="ana-pass-12"))

    response = browser.post(
        "/datasets/",
        {"file": SimpleUploadedFile("churn.csv", churn_csv().encode()), "target": "churned"},
    )
    assert response.status_code == 302
    page = browser.get(response["Location"]).content.decode()
    assert "<td>signed_up</td><td>datetime</td>" in page and "data-figure=" in page
    dataset = Dataset.objects.get(owner__username="ana")

    response = browser.post(
        f"/datasets/{dataset.id}/jobs/",
        {
            "model": "logistic_regression",
            "n_trials": 3,
            "scaling": "standard",
            "imputation": "mean",
            "search_features": "on",
        },
    )
    assert response.status_code == 302
    job = Job.objects.get(dataset=dataset)
    deadline = time.monotonic() + 180
    while Job.objects.get(id=job.id).status not in Job.FINISHED:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    page = browser.get(f"/datasets/{dataset.id}/").content.decode()
    assert 'class="status">succeeded' in page

"""Two users and a staff member; alice owns one object of every kind (a data set upload, a
job with trials, a model version with an alias, a deployment with logged predictions, a drift
report, a webhook and a schedule).
Every name alice chooses holds SECRET, so a page or list that leaks it is easy to catch."""

import json
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.support.data import IRIS_LIKE
from tests.support.factories import FEATURES, forest_dir, iris_xy, register
from workers.data.reference import reference_stats

SECRET = "alicesecret"


@dataclass
class World:
    dataset: int
    job: int
    model: int
    deployment: int
    report: int
    webhook: int
    schedule: int


@pytest.fixture
def world(alice, alice_api, staff, settings, tmp_path, model_store) -> World:
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    from automl.jobs import schedules
    from automl.jobs.models import Job, Trial
    from automl.monitoring.drift import run_drift_report
    from automl.registry.aliases import set_alias
    from automl.registry.webhooks import subscribe
    from automl.serving.predict import predict
    from automl.serving.traffic import create_deployment

    response = alice_api.post(
        "/api/v1/datasets/",
        {
            "file": SimpleUploadedFile("flowers.csv", IRIS_LIKE.encode()),
            "name": f"{SECRET} flowers",
            "target": "species",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    dataset = response.json()["id"]
    job = Job.objects.create(
        owner=alice,
        kind="hpo",
        name=f"{SECRET} search",
        dataset_id=dataset,
        status="running",
        config={
            "task": "classification",
            "metric": "accuracy",
            "model": "logistic_regression",
            "n_trials": 3,
        },
    )
    now = timezone.now()
    for number in range(2):
        Trial.objects.create(
            job=job,
            number=number,
            state="complete",
            params={"C": 0.5 + number},
            values=[0.9],
            started_at=now,
            finished_at=now,
        )
    directory = forest_dir(tmp_path / "model")
    X, _ = iris_xy()
    (directory / "reference.json").write_text(json.dumps(reference_stats(X, FEATURES)))
    version = register(alice, directory, name=f"{SECRET}-model")
    deployment = create_deployment(
        alice,
        name=f"{SECRET}-live",
        model_name=version.name,
        routes=[{"version": version.id, "weight": 1}],
        cache_ttl_s=0,
    )
    rows = [dict(zip(FEATURES, map(float, x), strict=True)) for x in X[::2]]
    predict(deployment, rows)
    report = run_drift_report(deployment, user=staff)
    set_alias(version, "champion", alice)
    webhook = subscribe(alice, f"http://127.0.0.1:9/{SECRET}", ["version_registered"])
    schedule = schedules.create(
        alice, name=f"{SECRET} nightly", cron="0 3 * * *", job=schedules.submission_of(job)
    )
    return World(
        dataset=dataset,
        job=job.id,
        model=version.id,
        deployment=deployment.id,
        report=report.id,
        webhook=webhook.id,
        schedule=schedule.id,
    )

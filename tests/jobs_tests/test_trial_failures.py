"""Failed trials on the platform: their class, retries and logs in the API, pages and
client, on an uploaded CSV (a category, gaps, a string target), run in this process."""

import pytest

from automl.jobs.models import Job, Trial
from tests.support.api import upload
from tests.support.data import IRIS_LIKE
from tests.support.factories import make_job, queued_hpo_job, run_here

pytestmark = pytest.mark.django_db

DIVERGING_MLP = {  # Adam's steps are about lr: the loss is NaN within the first epoch
    "hidden_units": {"type": "fixed", "value": 8},
    "epochs": {"type": "fixed", "value": 2},
    "lr": {"type": "fixed", "value": 1e35},
}


@pytest.fixture
def upload_set(alice_api, artifacts):
    from automl.datasets.models import Dataset

    answer = upload(alice_api, "flowers.csv", IRIS_LIKE, target="species")
    assert answer.status_code == 201, answer.content
    return Dataset.objects.get(id=answer.json()["id"])


def test_a_diverging_job_records_the_class_the_retry_and_the_log(
    alice, alice_api, bob_api, upload_set, alice_browser
):
    job = queued_hpo_job(alice, upload_set, model="mlp", search_space=DIVERGING_MLP, n_trials=1)
    job = run_here(job)
    assert job.status == Job.Status.FAILED and job.failure_class == "numerical"
    first, retry = Trial.objects.filter(job=job).order_by("number")
    assert first.failure_class == retry.failure_class == "numerical"
    assert retry.retry_of == 0 and retry.retry_change["lr"][0] == pytest.approx(1e35)
    assert "NumericalError" in first.log and "loss is nan" in first.log

    detail = alice_api.get(f"/api/v1/jobs/{job.id}/").json()
    assert detail["failure_class"] == "numerical"
    assert detail["failure_counts"] == {"numerical": 2}
    trials = alice_api.get(f"/api/v1/jobs/{job.id}/trials/").json()["results"]
    assert [(t["failure_class"], t["retry_of"]) for t in trials] == [
        ("numerical", None),
        ("numerical", 0),
    ]
    assert "log" not in trials[0]  # served on its own, not in every list
    log = alice_api.get(f"/api/v1/jobs/{job.id}/trials/0/log/").json()
    assert log["number"] == 0 and "loss is nan" in log["log"]
    assert bob_api.get(f"/api/v1/jobs/{job.id}/trials/0/log/").status_code == 404
    assert alice_api.get(f"/api/v1/jobs/{job.id}/trials/9/log/").status_code == 404

    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="job-failures"' in page and "numerical (NaN or inf)</span> 2" in page
    assert f'href="/jobs/{job.id}/trials/1/"' in page
    trial_page = alice_browser.get(f"/jobs/{job.id}/trials/1/").content.decode()
    assert "Retry of" in trial_page and "lr 1e+35 → 1e+34" in trial_page
    assert 'id="trial-log"' in trial_page
    assert alice_browser.get(f"/jobs/{job.id}/trials/7/").status_code == 404


def test_a_failure_without_a_class_is_read_from_its_error(alice, iris):
    from automl.jobs.reporter import DatabaseReporter

    job = make_job(alice, iris)
    reporter = DatabaseReporter(job)
    reporter.trial_started(0, {})
    reporter.trial_finished(0, "failed", {}, None, {}, "MemoryError: cannot allocate")
    reporter.trial_started(1, {})
    reporter.trial_finished(1, "complete", {}, [0.5], {})
    assert dict(Trial.objects.filter(job=job).values_list("number", "failure_class")) == {
        0: "oom",
        1: "",
    }


def test_the_client_and_cli_read_classes_and_logs(alice, iris, monkeypatch, request):
    import httpx
    from click.testing import CliRunner
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections
    from rest_framework.authtoken.models import Token

    from automl_client import Client
    from automl_client.cli import cli

    job = make_job(alice, iris, trials=(("complete", 0.9), ("failed", None)))
    Trial.objects.filter(job=job, number=1).update(
        failure_class="oom", log="MemoryError\nsecond line\n", retry_of=None
    )
    token = Token.objects.create(user=alice).key
    # As Django's test client does: the test's transaction keeps its connection open.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
        request.addfinalizer(lambda signal=signal: signal.connect(close_old_connections))
    transport = httpx.WSGITransport(app=get_wsgi_application())
    client = Client("http://testserver", token, transport=transport, progress=False)
    trials = client.jobs.trials(job.id)
    assert [t.failure_class for t in trials] == ["", "oom"]
    assert trials[1].log() == "MemoryError\nsecond line\n"
    assert client.jobs.get(job.id).failure_counts == {"oom": 1}

    import automl_client.cli as cli_module

    monkeypatch.setattr(cli_module, "client_of", lambda ctx: client)  # over the same WSGI app
    result = CliRunner().invoke(cli, ["jobs", "log", str(job.id), "1"])
    assert result.exit_code == 0 and result.output == "MemoryError\nsecond line\n"


def test_failed_trials_are_rerun_with_their_params_as_new_linked_trials(
    alice, alice_api, bob_api, upload_set, monkeypatch, alice_browser
):
    from workers.hpo.families import forest

    real_fit = forest.RandomForestFamily.fit
    broken = {"on": True}

    def fit(self, params, X, y, ctx):
        if broken["on"]:
            raise RuntimeError("a bug, fixed since")
        return real_fit(self, params, X, y, ctx)

    monkeypatch.setattr(forest.RandomForestFamily, "fit", fit)
    job = run_here(queued_hpo_job(alice, upload_set, model="random_forest", n_trials=2))
    assert job.status == "failed" and job.failure_class == "bug"
    url = f"/api/v1/jobs/{job.id}/trials/rerun/"
    assert bob_api.post(url, {}, format="json").status_code == 404
    refused = alice_api.post(url, {"failure_class": "oom"}, format="json")
    assert refused.status_code == 400 and "failure_class" in refused.json()["fields"]

    broken["on"] = False
    answer = alice_api.post(url, {"failure_class": "bug"}, format="json")
    assert answer.status_code == 202, answer.content
    assert answer.json()["rerun_of"] == [0, 1] and answer.json()["job"]["status"] == "queued"
    assert alice_api.post(url, {}, format="json").status_code == 409  # queued, not finished
    job = run_here(job)
    assert job.status == "succeeded", job.error_message
    rows = {t.number: t for t in Trial.objects.filter(job=job)}
    assert [(rows[n].state, rows[n].retry_of) for n in (2, 3)] == [
        ("complete", 0),
        ("complete", 1),
    ]
    assert [rows[n].params for n in (2, 3)] == [rows[0].params, rows[1].params]
    assert job.result["n_complete"] == 2 and job.result["best_number"] in (2, 3)
    again = alice_api.post(url, {}, format="json")
    assert again.status_code == 400 and "no failed trial" in again.json()["detail"]

    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="rerun-form"' not in page  # every failed trial was re-run


def test_the_rerun_button_queues_the_job_again(alice, iris, alice_browser):
    job = make_job(alice, iris, kind="nas", trials=(("failed", None),), status="failed")
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="rerun-form"' not in page  # NAS trials are not re-run
    answer = alice_browser.post(f"/jobs/{job.id}/rerun/", follow=True)
    assert "only HPO jobs re-run failed trials" in answer.content.decode()

"""A failed or cancelled HPO job can register its best trial so far (service, API, page):
a worker refits it as a succeeded job's close would; the job keeps its status."""

import pytest

from automl.jobs import tasks
from automl.jobs.models import Job
from automl.jobs.reporter import DatabaseReporter
from automl.registry.models import ModelVersion
from tests.support.factories import make_job, queued_hpo_job, run_here

pytestmark = pytest.mark.django_db

SPACE = {"n_estimators": {"type": "int", "low": 5, "high": 20}}


@pytest.fixture
def cancelled(alice, alice_api, iris, artifacts, monkeypatch):
    """An HPO job cancelled, as a user would through the API, after its second trial."""
    monkeypatch.setattr(DatabaseReporter, "POLL_S", 0.0)
    job = queued_hpo_job(alice, iris, model="random_forest", search_space=SPACE, n_trials=6)
    real_finished = DatabaseReporter.trial_finished

    def cancel_after_the_second(self, number, *args, **kwargs):
        real_finished(self, number, *args, **kwargs)
        if number == 1:
            assert alice_api.post(f"/api/v1/jobs/{job.id}/cancel/").status_code == 202

    monkeypatch.setattr(DatabaseReporter, "trial_finished", cancel_after_the_second)
    job = run_here(job)
    assert job.status == "cancelled" and job.trials.filter(state="complete").count() >= 2
    assert not ModelVersion.objects.filter(job=job).exists()
    return job


def test_a_cancelled_job_registers_its_best_trial(
    cancelled, alice_api, bob_api, django_capture_on_commit_callbacks
):
    url = f"/api/v1/jobs/{cancelled.id}/register-best/"
    assert bob_api.post(url).status_code == 404
    with django_capture_on_commit_callbacks() as queued:
        response = alice_api.post(url)
    assert response.status_code == 202 and len(queued) == 1
    tasks.register_best(cancelled.id)  # what the worker does with that message
    version = ModelVersion.objects.get(job=cancelled)
    job = Job.objects.get(id=cancelled.id)
    assert job.status == "cancelled"  # it stays what it was
    assert job.result["refit"]["model_version"] == version.id
    assert version.family == "random_forest" and version.metrics
    # Once is enough: the job has its model now.
    again = alice_api.post(url)
    assert again.status_code == 409 and "registered a model already" in again.json()["detail"]


def test_only_a_failed_or_cancelled_job_with_a_finished_trial(alice, alice_api, iris):
    running = make_job(alice, iris, status="running")
    response = alice_api.post(f"/api/v1/jobs/{running.id}/register-best/")
    assert response.status_code == 409 and "only a failed or cancelled job" in response.text
    empty = make_job(alice, iris, status="failed")
    response = alice_api.post(f"/api/v1/jobs/{empty.id}/register-best/")
    assert response.status_code == 409 and "no finished trial" in response.text
    nas = make_job(alice, iris, kind="nas", status="failed")
    response = alice_api.post(f"/api/v1/jobs/{nas.id}/register-best/")
    assert response.status_code == 400 and "only HPO jobs" in response.text


def test_the_page_offers_it(cancelled, alice_browser, django_capture_on_commit_callbacks):
    page = alice_browser.get(f"/jobs/{cancelled.id}/").content.decode()
    assert "Register the best trial so far" in page
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = alice_browser.post(f"/jobs/{cancelled.id}/register-best/", follow=True)
    assert len(queued) == 1 and "the best so far" in response.content.decode()

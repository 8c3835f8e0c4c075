"""Pausing a job between trials (DARTS: epochs), resuming it from its study or checkpoint,
and giving an HPO job more trials, through the API, run in this process."""

import pytest

from automl.jobs.models import Job, Trial
from automl.jobs.reporter import DatabaseReporter
from tests.support.api import submit
from tests.support.factories import make_job, queued_hpo_job, run_here

pytestmark = pytest.mark.django_db

SPACE = {
    "n_estimators": {"type": "int", "low": 5, "high": 30},
    "max_depth": {"type": "int", "low": 1, "high": 6},
}


def test_a_paused_job_resumes_from_its_study_and_takes_more_trials(
    alice, alice_api, bob_api, iris, artifacts, monkeypatch, alice_browser
):
    monkeypatch.setattr(DatabaseReporter, "POLL_S", 0.0)  # see the pause at once
    job = queued_hpo_job(alice, iris, model="random_forest", search_space=SPACE, n_trials=4)
    url = f"/api/v1/jobs/{job.id}/"
    real_finished = DatabaseReporter.trial_finished

    def pause_after_the_second(self, number, *args, **kwargs):
        real_finished(self, number, *args, **kwargs)
        if number == 1:  # as a user would, while the job runs
            assert alice_api.post(url + "pause/").status_code == 202

    monkeypatch.setattr(DatabaseReporter, "trial_finished", pause_after_the_second)
    job = run_here(job)
    assert job.status == "paused" and not job.pause_requested
    assert Trial.objects.filter(job=job).count() == 2
    assert alice_api.post(url + "pause/").status_code == 409  # not running
    assert bob_api.post(url + "resume/").status_code == 404
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="resume-job"' in page and 'id="extend-form"' in page

    assert alice_api.post(url + "extend/", {"n_trials": 2}, format="json").status_code == 202
    assert alice_api.post(url + "extend/", {"n_trials": 0}, format="json").status_code == 400
    answer = alice_api.post(url + "resume/")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    monkeypatch.setattr(DatabaseReporter, "trial_finished", real_finished)
    job = run_here(job)
    assert job.status == "succeeded", job.error_message
    trials = list(Trial.objects.filter(job=job).order_by("number"))
    assert [t.number for t in trials] == list(range(6)) and job.result["n_complete"] == 6
    # The sampler went on from the study: no trial of the first run was drawn again.
    first_run = [t.params for t in trials[:2]]
    assert all(t.params not in first_run for t in trials[2:])

    # A finished job given more trials runs them at once.
    answer = alice_api.post(url + "extend/", {"n_trials": 1}, format="json")
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    job = run_here(job)
    assert job.status == "succeeded" and job.result["n_complete"] == 7

    from automl.audit import history

    changes = [e.changes for e in history(job)][::-1]
    assert {"pause_requested": [False, True]} in changes
    assert {"status": ["running", "paused"]} in changes
    assert {"status": ["paused", "queued"]} in changes


def test_nas_and_compression_jobs_pause_but_only_hpo_jobs_take_more_trials(
    alice, alice_api, iris, alice_browser
):
    for kind in ("nas", "compression"):
        job = make_job(alice, iris, kind=kind, status="running")
        page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
        assert 'id="pause-job"' in page
        assert alice_api.post(f"/api/v1/jobs/{job.id}/pause/").status_code == 202
        job.status = "paused"
        job.save()
        assert 'id="extend-form"' not in alice_browser.get(f"/jobs/{job.id}/").content.decode()
        answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", {"n_trials": 2}, format="json")
        assert answer.status_code == 400
        assert answer.json()["detail"] == "only HPO jobs can be extended"
    job = make_job(alice, iris, kind="external", status="running")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/pause/")
    assert answer.status_code == 400
    assert (
        answer.json()["detail"] == "only HPO, NAS and compression jobs can be paused and resumed"
    )


def test_a_paused_darts_job_resumes_from_its_checkpoint(
    alice, alice_api, digits, artifacts, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(DatabaseReporter, "POLL_S", 0.0)
    config = {
        "strategy": {"name": "darts", "epochs": 3, "batch_size": 128},
        "space": {"name": "cell", "cells": 2, "nodes": 2, "channels": 4},
        "retrain": {"epochs": 1},
    }
    answer = submit(alice_api, "nas", digits, config)
    assert answer.status_code == 201, answer.json()
    job = Job.objects.get(id=answer.json()["id"])
    url = f"/api/v1/jobs/{job.id}/"
    real_finished = DatabaseReporter.trial_finished

    def pause_after_the_first_epoch(self, number, *args, **kwargs):
        real_finished(self, number, *args, **kwargs)
        if number == 0:
            assert alice_api.post(url + "pause/").status_code == 202

    monkeypatch.setattr(DatabaseReporter, "trial_finished", pause_after_the_first_epoch)
    job = run_here(job)
    assert job.status == "paused", job.error_message
    assert list(Trial.objects.filter(job=job).values_list("number", flat=True)) == [0]
    assert (job.checkpoint_dir / "darts.pt").exists()

    monkeypatch.setattr(DatabaseReporter, "trial_finished", real_finished)
    assert alice_api.post(url + "resume/").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        job = run_here(job)
    assert job.status == "succeeded", job.error_message
    numbers = Trial.objects.filter(job=job).order_by("number").values_list("number", flat=True)
    assert list(numbers) == [0, 1, 2]
    assert job.result["notes"]["resumed_at_epochs"] == [1]
    assert [h["epoch"] for h in job.result["alpha_history"]] == [0, 1, 2]
    assert not job.checkpoint_dir.exists()  # removed once the job finished


def test_a_job_that_ran_no_trial_cannot_be_extended(alice, alice_api, iris):
    job = make_job(alice, iris, status="cancelled", study_name="job-never-started")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", {"n_trials": 2}, format="json")
    assert answer.status_code == 409 and "ended before its first trial" in answer.json()["detail"]
    job.refresh_from_db()
    assert job.status == "cancelled"  # not reopened

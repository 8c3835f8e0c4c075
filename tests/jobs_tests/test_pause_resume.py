"""Pausing a job between trials (DARTS: epochs), resuming it from its study or checkpoint,
and giving an HPO or NAS job more trials, through the API, run in this process."""

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


def test_nas_and_compression_jobs_pause_but_compression_jobs_take_no_more_trials(
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
    assert answer.json()["detail"] == "only HPO and NAS jobs can be extended"
    job = make_job(alice, iris, kind="external", status="running")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/pause/")
    assert answer.status_code == 400
    assert (
        answer.json()["detail"] == "only HPO, NAS and compression jobs can be paused and resumed"
    )


def test_a_nas_search_is_not_extended_past_its_strategys_largest_budget(alice, alice_api, iris):
    from workers.nas.config import validate_nas_config

    config = validate_nas_config({"strategy": "random"}, "tabular", n_features=4).to_json()
    job = make_job(alice, iris, kind="nas", config=config, status="paused")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", {"n_trials": 10_000}, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("10000 more candidates are too many")
    assert "strategy.candidates" in answer.json()["detail"]
    assert Job.objects.get(id=job.id).config["strategy"]["candidates"] == 20


def test_a_paused_evolution_search_extended_trains_more_candidates_from_its_trials(
    alice, alice_api, iris, artifacts, monkeypatch, alice_browser
):
    monkeypatch.setattr(DatabaseReporter, "POLL_S", 0.0)
    config = {
        "strategy": {"name": "evolution", "population": 2, "sample_size": 2, "cycles": 1},
        "space": {"name": "mlp", "widths": [4, 8], "max_layers": 1},
        "proxy": {"epochs": 1},
        "retrain": {"epochs": 1},
    }
    answer = submit(alice_api, "nas", iris, config)
    assert answer.status_code == 201, answer.json()
    job = Job.objects.get(id=answer.json()["id"])
    url = f"/api/v1/jobs/{job.id}/"
    real_finished = DatabaseReporter.trial_finished

    def pause_after_the_first(self, number, *args, **kwargs):
        real_finished(self, number, *args, **kwargs)
        if number == 0:
            assert alice_api.post(url + "pause/").status_code == 202

    monkeypatch.setattr(DatabaseReporter, "trial_finished", pause_after_the_first)
    job = run_here(job)
    assert job.status == "paused", job.error_message
    first = list(Trial.objects.filter(job=job).values_list("number", "params"))
    assert len(first) == 1
    assert 'id="extend-form"' in alice_browser.get(f"/jobs/{job.id}/").content.decode()

    answer = alice_api.post(url + "extend/", {"n_trials": 2}, format="json")
    assert answer.status_code == 202 and answer.json()["status"] == "paused"
    assert answer.json()["config"]["strategy"]["cycles"] == 3  # 2 + 3 candidates in all
    assert alice_api.post(url + "resume/").status_code == 202
    monkeypatch.setattr(DatabaseReporter, "trial_finished", real_finished)
    job = run_here(job)

    assert job.status == "succeeded", job.error_message
    trials = list(Trial.objects.filter(job=job).order_by("number").values_list("number", "params"))
    assert [n for n, _ in trials] == [0, 1, 2, 3, 4] and trials[:1] == first
    assert job.result["n_complete"] == 5

    from automl.audit import history

    assert {"n_trials": [None, "+2"]} in [e.changes for e in history(job)]


def test_a_paused_darts_job_resumes_from_its_checkpoint(
    alice,
    alice_api,
    digits,
    artifacts,
    monkeypatch,
    django_capture_on_commit_callbacks,
    alice_browser,
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
    # Its checkpoint anneals the learning rate over 3 epochs: more cannot follow it.
    answer = alice_api.post(url + "extend/", {"n_trials": 2}, format="json")
    assert answer.status_code == 409
    assert "anneals its learning rate" in answer.json()["fields"]["n_trials"][0]
    assert Job.objects.get(id=job.id).config["strategy"]["epochs"] == 3
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="resume-job"' in page and 'id="extend-form"' not in page

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


class WorkerDied(BaseException):
    """The worker process ended here (nothing below catches it, as nothing catches a kill)."""


def test_a_compression_step_whose_worker_died_before_registering_is_registered_once(
    alice, alice_api, digits, artifacts, monkeypatch, tmp_path
):
    from automl.jobs import tasks
    from automl.registry import services
    from automl.registry.models import ModelVersion
    from tests.e2e.test_compression_e2e import register_mlp

    source = register_mlp(alice, tmp_path)
    config = {
        "model_version": source.id,
        "report": {"repeats": 1},
        "steps": [{"technique": "prune_magnitude", "sparsity": 0.3}, "dynamic_int8"],
    }
    answer = submit(alice_api, "compression", digits, config)
    assert answer.status_code == 201, answer.json()
    job = Job.objects.get(id=answer.json()["id"])
    real_register = services.register_model_directory

    def die_at_the_second_step(owner, name, directory, *, recipe, **kwargs):
        if recipe["step"] == 1:  # its model is saved and checkpointed, not registered
            raise WorkerDied
        return real_register(owner, name, directory, recipe=recipe, **kwargs)

    monkeypatch.setattr(services, "register_model_directory", die_at_the_second_step)
    with pytest.raises(WorkerDied):
        tasks.run_job(job.id)
    assert ModelVersion.objects.filter(job=job).count() == 1
    first = ModelVersion.objects.get(job=job)
    step_1 = artifacts / "jobs" / str(job.id) / "step-1"
    step_1_files = {p.name: p.stat().st_mtime_ns for p in step_1.iterdir()}

    monkeypatch.setattr(services, "register_model_directory", real_register)
    tasks.run_trials(job.id, 0)  # the reconciler's new runner: on from the checkpoint
    job.refresh_from_db()

    assert job.status == "succeeded", job.error_message
    versions = list(ModelVersion.objects.filter(job=job).order_by("id"))
    assert [v.compression["step"] for v in versions] == [0, 1]  # each step once
    assert versions[0] == first and versions[1].parent == first
    assert [s["model_version"] for s in job.result["steps"]] == [v.id for v in versions]
    # The second step was registered from its saved model, not trained again over it.
    assert {p.name: p.stat().st_mtime_ns for p in step_1.iterdir()} == step_1_files


def test_a_job_stopped_by_its_time_budget_is_given_more_time(
    alice, alice_api, iris, artifacts, alice_browser
):
    job = queued_hpo_job(alice, iris, model="random_forest", search_space=SPACE, time_budget_s=0.5)
    job = run_here(job)
    assert job.status == "succeeded", job.error_message
    first = job.result["n_complete"]
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert "More trials or time" in page and 'id="extend-seconds"' in page
    url = f"/api/v1/jobs/{job.id}/extend/"

    nothing = alice_api.post(url, {}, format="json")
    assert nothing.status_code == 400 and "n_trials" in nothing.json()["fields"]
    # Past a week of budget: the same bound as the config's, named by the field.
    too_much = alice_api.post(url, {"seconds": 7 * 24 * 3600}, format="json")
    assert too_much.status_code == 400
    assert "must be at most" in too_much.json()["fields"]["seconds"][0]
    assert "time_budget_s" in too_much.json()["detail"]
    assert Job.objects.get(id=job.id).status == "succeeded"  # not reopened

    # The page's form: seconds alone.
    sent = alice_browser.post(f"/jobs/{job.id}/extend/", {"n_trials": "", "seconds": "1"})
    assert sent.status_code == 302
    job.refresh_from_db()
    assert job.status == "queued" and job.config["time_budget_s"] == 1.5
    job = run_here(job)
    assert job.status == "succeeded", job.error_message
    assert job.result["n_complete"] > first
    assert job.result["budget"]["time_budget_s"] == 1.5

    from automl.audit import history

    assert {"seconds": [None, "+1"]} in [e.changes for e in history(job)]


def test_a_job_without_a_time_limit_takes_trials_not_seconds(alice, alice_api, iris):
    from workers.nas.config import validate_nas_config

    job = make_job(alice, iris, status="succeeded", study_name="job-never-started")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", {"seconds": 60}, format="json")
    assert answer.status_code == 409
    assert answer.json()["fields"]["seconds"] == ["the job's config sets no time_budget_s"]

    config = validate_nas_config({"strategy": "random"}, "tabular", n_features=4).to_json()
    job = make_job(alice, iris, kind="nas", config=config, status="paused")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", {"seconds": 60}, format="json")
    assert answer.status_code == 409
    assert answer.json()["fields"]["seconds"] == ["the job's config sets no timeout_s"]


def test_a_paused_nas_search_is_given_more_candidates_and_time(
    alice, alice_api, iris, alice_browser
):
    from workers.nas.config import validate_nas_config

    config = validate_nas_config(
        {"strategy": "random", "timeout_s": 60}, "tabular", n_features=4
    ).to_json()
    job = make_job(alice, iris, kind="nas", config=config, status="paused")
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert "More candidates or time" in page
    body = {"n_trials": 2, "seconds": 30}
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", body, format="json")
    assert answer.status_code == 202 and answer.json()["status"] == "paused"
    stored = answer.json()["config"]
    assert (stored["strategy"]["candidates"], stored["timeout_s"]) == (22, 90)

    darts = validate_nas_config(
        {"strategy": "darts", "timeout_s": 60}, "image", n_features=64
    ).to_json()
    job = make_job(alice, iris, kind="nas", config=darts, status="paused")
    answer = alice_api.post(f"/api/v1/jobs/{job.id}/extend/", {"seconds": 30}, format="json")
    assert answer.status_code == 409
    assert "anneals its learning rate" in answer.json()["fields"]["seconds"][0]

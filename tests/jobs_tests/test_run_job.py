"""The tasks called in this process, on the test database: the task logic without a worker.

run_job claims the job and sends its runners to the broker; here the test then plays the
worker and calls run_trials itself. Real worker processes run them in tests/e2e/.
"""

from functools import partial

import pytest

from automl.jobs import tasks
from automl.jobs.models import Job, Trial
from automl.jobs.reporter import DatabaseReporter
from automl.jobs.runners import hpo
from automl.jobs.runners.base import load_data
from automl.jobs.studies import study_storage
from tests.support.factories import queued_hpo_job, run_here
from workers.hpo import engine
from workers.hpo.config import HPOConfig
from workers.reporter import MemoryReporter
from workers.studies.storage import trial_id

pytestmark = pytest.mark.django_db


make_job = partial(queued_hpo_job, n_trials=3)


def test_a_worker_fails_a_job_asking_more_gpus_than_its_child_holds(alice, iris, monkeypatch):
    from automl.jobs import worker

    monkeypatch.setattr(worker, "_child_gpus", ["0", "1"])  # AUTOML_WORKER_GPUS's slice
    job = make_job(alice, iris, model="random_forest")
    Job.objects.filter(id=job.id).update(resources={"device": "auto", "gpus": 4})
    tasks.run_job(job.id)
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 0  # refused before it was claimed
    assert job.error_message.startswith("needs 4 GPUs, worker ")
    assert "gives each job 2 GPUs" in job.error_message
    Job.objects.filter(id=job.id).update(status="running")  # a runner on a small worker
    tasks.run_trials(job.id, 0)
    assert Job.objects.get(id=job.id).status == "failed"
    assert not Trial.objects.filter(job=job).exists()


def test_it_runs_an_hpo_job_to_success(alice, iris):
    job = run_here(
        make_job(alice, iris, model="random_forest", sampler={"name": "tpe", "seed": 1})
    )
    assert job.status == "succeeded", job.error_message
    assert job.progress == 1.0
    assert job.result["n_complete"] == 3
    assert job.result["best_value"] > 0.85
    assert job.worker_info["system"] and job.worker_host
    assert job.result["refit"]["test_metrics"]["accuracy"] > 0.8
    trials = Trial.objects.filter(job=job)
    assert trials.count() == 3
    assert all(t.state == "complete" and t.finished_at for t in trials)


def test_a_second_delivery_does_nothing(alice, iris):
    job = run_here(make_job(alice, iris, model="random_forest", n_trials=2))
    finished_at = job.finished_at
    tasks.run_job(job.id)
    tasks.run_trials(job.id, 1)
    assert Trial.objects.filter(job=job).count() == 2
    assert Job.objects.get(id=job.id).finished_at == finished_at


def test_a_runner_continues_a_study_another_runner_started(alice, iris):
    job = make_job(alice, iris, model="random_forest", n_trials=4)
    tasks.run_job(job.id)
    # A first runner ran two trials, then its worker vanished before writing any rows.
    storage = study_storage(job)
    config = HPOConfig.from_json(job.config)
    engine.run_trials(
        config, load_data(job), MemoryReporter(stop_after=2), storage, job.study_name
    )
    tasks.run_trials(job.id, 1)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert job.result["n_complete"] == 4
    trials = Trial.objects.filter(job=job).order_by("number")
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == "complete" and t.values for t in trials)


def test_a_trial_whose_worker_died_is_failed_and_replaced(alice, iris):
    job = make_job(alice, iris, model="random_forest", n_trials=3)
    tasks.run_job(job.id)
    storage = study_storage(job)
    import optuna

    study = optuna.load_study(study_name=job.study_name, storage=storage)
    orphan = study.ask()  # running, and nobody will ever beat its heartbeat
    storage.set_trial_system_attr(trial_id(orphan), "heartbeat", 0.0)
    tasks.run_trials(job.id, 0)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    states = dict(Trial.objects.filter(job=job).values_list("number", "state"))
    assert states == {0: "failed", 1: "complete", 2: "complete", 3: "complete"}
    assert "lost" in Trial.objects.get(job=job, number=0).error
    assert job.result["n_complete"] == 3, "the lost trial was replaced"


def test_an_engine_failure_fails_the_job_with_a_readable_message(alice, iris, monkeypatch):
    job = make_job(alice, iris, model="random_forest")

    def explode(job):
        raise ValueError("the data set has no rows")

    monkeypatch.setattr(hpo, "load_data", explode)
    job = run_here(job)
    assert job.status == "failed"
    assert job.error_message == "ValueError: the data set has no rows"


def test_a_cancel_request_stops_between_trials(alice, iris, monkeypatch):
    job = make_job(alice, iris, model="random_forest", n_trials=10)
    calls = {"n": 0}
    original = DatabaseReporter.trial_finished

    def finish_then_cancel(self, *args, **kwargs):
        original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            Job.objects.filter(id=self.job_id).update(cancel_requested=True)

    monkeypatch.setattr(DatabaseReporter, "trial_finished", finish_then_cancel)
    monkeypatch.setattr(DatabaseReporter, "POLL_S", 0.0)  # read the flag before every trial
    job = run_here(job)
    assert job.status == "cancelled"
    assert Trial.objects.filter(job=job, state="complete").count() == 2


def test_the_reporter_writes_curves_and_states(alice, iris):
    job = make_job(alice, iris)
    reporter = DatabaseReporter(job)
    reporter.trial_started(0, {"a": 1})
    assert Trial.objects.get(job=job, number=0).state == "running"
    reporter.trial_reported(0, 0, 0.5)
    reporter.trial_reported(0, 1, float("nan"))
    assert Trial.objects.get(job=job, number=0).intermediate_values == {"0": 0.5, "1": None}
    reporter.trial_finished(0, "pruned", {"a": 1}, None, {0: 0.5, 1: 0.4})
    trial = Trial.objects.get(job=job, number=0)
    assert trial.state == "pruned" and trial.intermediate_values == {"0": 0.5, "1": 0.4}
    Job.objects.filter(id=job.id).update(status="running")
    reporter.progress(1.7)
    assert Job.objects.get(id=job.id).progress == 1.0


def test_a_finished_jobs_progress_stays_as_it_ended(alice, iris):
    """Another runner of a parallel job may report after the job succeeded."""
    job = make_job(alice, iris)
    Job.objects.filter(id=job.id).update(status="succeeded", progress=1.0)
    DatabaseReporter(job).progress(0.9)
    assert Job.objects.get(id=job.id).progress == 1.0


def test_the_worker_checks_a_stored_config_again_before_any_trial(alice, iris):
    """A bound is checked at submission and again in the engine: a stored config that no
    longer passes (edited in the database, or from before a bound existed) fails the job
    with the field named, and no trial runs."""
    job = make_job(alice, iris, model="random_forest")
    Job.objects.filter(id=job.id).update(config={**job.config, "n_trials": 10**9})
    job = run_here(job)
    assert job.status == "failed"
    assert "ConfigError: n_trials: must be an integer from 1 to 10000" in job.error_message
    assert not Trial.objects.filter(job=job).exists()


def test_the_api_shows_a_jobs_progress_within_a_trial(alice, alice_api, iris, monkeypatch):
    from workers.hpo.families import FAMILIES

    job, seen = make_job(alice, iris, model="knn", n_trials=2), []
    fit = FAMILIES["knn"].fit

    def fit_and_look(params, X, y, ctx):
        ctx.on_progress(0.5)  # as a family that trains step by step reports
        seen.append(alice_api.get(f"/api/v1/jobs/{job.id}/").json()["progress"])
        return fit(params, X, y, ctx)

    monkeypatch.setattr(FAMILIES["knn"], "fit", fit_and_look)
    assert run_here(job).status == "succeeded"
    assert seen[0] == pytest.approx(0.25)  # half of the first of two trials

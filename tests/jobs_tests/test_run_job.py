"""run_job called in this process, on the test database: the task logic without a broker.

The same task runs in a real worker process in tests/e2e/.
"""

import pytest

from automl.jobs.models import Job, Trial
from automl.jobs.reporter import DatabaseReporter
from workers import tasks
from workers.hpo.config import validate_hpo_config

pytestmark = pytest.mark.django_db


def make_job(owner, dataset, **config) -> Job:
    return Job.objects.create(
        owner=owner, kind="hpo", name="t", dataset=dataset,
        config=validate_hpo_config({"n_trials": 3, **config}, dataset.task),
    )


def test_it_runs_an_hpo_job_to_success(alice, iris):
    job = make_job(alice, iris, model="random_forest", sampler={"name": "tpe", "seed": 1})
    tasks.run_job(job.id)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert job.progress == 1.0
    assert job.result["n_complete"] == 3
    assert job.result["best_value"] > 0.85
    assert job.worker_info["system"] and job.worker_host
    trials = Trial.objects.filter(job=job)
    assert trials.count() == 3
    assert all(t.state == "complete" and t.finished_at for t in trials)


def test_a_second_delivery_does_nothing(alice, iris):
    job = make_job(alice, iris, model="random_forest", n_trials=2)
    tasks.run_job(job.id)
    finished_at = Job.objects.get(id=job.id).finished_at
    tasks.run_job(job.id)
    assert Trial.objects.filter(job=job).count() == 2
    assert Job.objects.get(id=job.id).finished_at == finished_at


def test_a_resumed_job_keeps_its_finished_trials(alice, iris):
    job = make_job(alice, iris, model="random_forest", n_trials=4)
    Trial.objects.create(job=job, number=0, state="complete", values=[0.9],
                         params={"n_estimators": 20, "max_depth": 4, "min_samples_leaf": 2})
    tasks.run_job(job.id)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error_message
    assert sorted(Trial.objects.filter(job=job).values_list("number", flat=True)) == [0, 1, 2, 3]
    assert Trial.objects.get(job=job, number=0).values == [0.9]


def test_an_engine_failure_fails_the_job_with_a_readable_message(alice, iris, monkeypatch):
    job = make_job(alice, iris, model="random_forest")

    def explode(job, reporter):
        raise ValueError("the data set has no rows")

    monkeypatch.setattr(tasks, "run_engine", explode)
    tasks.run_job(job.id)
    job.refresh_from_db()
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
    tasks.run_job(job.id)
    job.refresh_from_db()
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
    reporter.progress(1.7)
    assert Job.objects.get(id=job.id).progress == 1.0
    assert reporter.previous_trials()[0]["intermediate_values"] == {0: 0.5, 1: 0.4}

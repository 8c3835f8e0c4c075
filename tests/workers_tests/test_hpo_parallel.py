"""Several runners on one shared study: exactly n_trials, numbered 0..n-1; dead workers."""

import multiprocessing
import threading
import time

import optuna
import pytest

from workers.data.builtin import load_builtin
from workers.hpo.config import HPOConfig, validate_hpo_config
from workers.hpo.engine import create_study, run_trials, summarize
from workers.reporter import MemoryReporter
from workers.studies.heartbeat import LOST
from workers.studies.storage import make_storage, trial_id

CONFIG = {"model": "knn", "n_trials": 8, "sampler": {"name": "random", "seed": 0}}


def run_runner(url: str, runner: int, config: HPOConfig) -> None:
    """One trial runner, as a Celery worker process would run it."""
    run_trials(
        config, load_builtin("iris"), MemoryReporter(), make_storage(url), "job", runner=runner
    )


def run_processes(url: str, config: HPOConfig) -> None:
    """The job's `parallelism` runners, each in its own process."""
    spawn = multiprocessing.get_context("spawn")
    runners = [
        spawn.Process(target=run_runner, args=(url, i, config)) for i in range(config.parallelism)
    ]
    for p in runners:
        p.start()
    for p in runners:
        p.join(timeout=300)
        assert p.exitcode == 0


def test_two_processes_share_one_journal_study(tmp_path):
    url = f"journal:{tmp_path / 'study.log'}"
    config = validate_hpo_config({**CONFIG, "parallelism": 2}, "classification")
    create_study(config, make_storage(url), "job")
    run_processes(url, config)

    study = optuna.load_study(study_name="job", storage=make_storage(url))
    ran = [t for t in study.trials if not t.system_attrs.get("discarded")]
    assert sorted(t.number for t in ran) == list(range(8))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in ran)
    assert summarize(config, make_storage(url), "job").n_complete == 8


def test_a_dead_workers_trial_fails_and_the_job_still_reaches_n_trials(tmp_path):
    url = f"journal:{tmp_path / 'study.log'}"
    storage = make_storage(url)
    config = validate_hpo_config({**CONFIG, "n_trials": 3}, "classification")
    study = create_study(config, storage, "job")
    orphan = study.ask()  # its worker "dies": the trial stays RUNNING, its heartbeat ages
    storage.set_trial_system_attr(trial_id(orphan), "heartbeat", time.time() - 3600)

    reporter = MemoryReporter()
    run_trials(config, load_builtin("iris"), reporter, storage, "job", stale_after_s=60)
    trials = optuna.load_study(study_name="job", storage=storage).trials
    assert trials[0].state == optuna.trial.TrialState.FAIL
    assert trials[0].system_attrs["error"] == LOST
    assert [f["number"] for f in reporter.finished] == [1, 2, 3], "the lost trial replaced"
    result = summarize(config, storage, "job")
    assert (result.n_complete, result.n_failed) == (3, 1)


def test_a_runner_at_the_budget_waits_for_a_running_trial_and_replaces_it_if_lost(tmp_path):
    storage = make_storage(f"journal:{tmp_path / 'study.log'}")
    config = validate_hpo_config({**CONFIG, "n_trials": 3}, "classification")
    study = create_study(config, storage, "job")
    orphan = study.ask()  # still beating when the runner reaches the budget, then dies
    storage.set_trial_system_attr(trial_id(orphan), "heartbeat", time.time())

    reporter = MemoryReporter()
    run_trials(config, load_builtin("iris"), reporter, storage, "job", stale_after_s=1.0)

    trials = optuna.load_study(study_name="job", storage=storage).trials
    assert trials[0].system_attrs["error"] == LOST
    assert [t.state for t in trials[1:]] == [optuna.trial.TrialState.COMPLETE] * 3, (
        "the replacement took the next number: none discarded, no gap"
    )
    assert summarize(config, storage, "job").n_complete == 3


def test_a_runner_at_the_budget_waits_for_a_trial_that_then_finishes(tmp_path):
    storage = make_storage(f"journal:{tmp_path / 'study.log'}")
    config = validate_hpo_config({**CONFIG, "n_trials": 3}, "classification")
    study = create_study(config, storage, "job")
    other = study.ask()  # another runner's trial, which ends while this runner waits
    finisher = threading.Timer(1.0, study.tell, (other, 0.9))
    finisher.start()

    run_trials(config, load_builtin("iris"), MemoryReporter(), storage, "job", stale_after_s=60)

    assert not finisher.is_alive(), "the runner returned only after the other trial ended"
    result = summarize(config, storage, "job")
    assert (result.n_complete, result.n_failed) == (3, 0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eight_workers_times_twenty_trials_on_one_postgres_study(real_services):
    """The reliability target: 8 processes share one Postgres-backed study, 160 trials."""
    from automl.jobs.models import Job
    from automl.jobs.studies import storage_url

    url = storage_url(Job(study_name="unused on Postgres"))
    config = validate_hpo_config({**CONFIG, "n_trials": 160, "parallelism": 8}, "classification")
    create_study(config, make_storage(url), "job")

    run_processes(url, config)

    study = optuna.load_study(study_name="job", storage=make_storage(url))
    ran = [t for t in study.trials if not t.system_attrs.get("discarded")]
    assert sorted(t.number for t in ran) == list(range(160)), "none lost, none doubled"
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in ran)
    result = summarize(config, make_storage(url), "job")
    assert (result.n_complete, result.n_failed) == (160, 0)

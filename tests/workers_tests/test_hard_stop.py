"""The hard end of a trial that ignores its stop checks (workers/training/stopping.py,
Watchdog): the watchdog records the trial and ends the process; the runner that takes over
goes on with the next trial, or ends the job when the job's own deadline or a retry policy
says so. Here the "process end" unblocks the stuck call and unwinds the runner instead,
so the whole path runs in this process (tests/e2e/test_hard_stop_e2e.py ends real ones)."""

import threading
import time
from types import SimpleNamespace

import pytest
from optuna.trial import TrialState

from workers.hpo import engine
from workers.hpo.config import validate_hpo_config
from workers.hpo.families import FAMILIES
from workers.reporter import MemoryReporter
from workers.studies.heartbeat import FAILURE_CLASS
from workers.studies.storage import make_storage
from workers.training.stopping import (
    Cancelled,
    DeadlineExceeded,
    HardStop,
    StopCheck,
    Watchdog,
)


def soon(seconds: float) -> float:
    return time.monotonic() + seconds


def test_a_run_that_checks_nothing_is_recorded_then_its_process_ended():
    ended, released = [], threading.Event()

    def end_process():
        ended.append("process ended")
        released.set()

    check = StopCheck(deadline=soon(0.05), limit="trial_timeout_s=0.05")
    with Watchdog(HardStop(end_process, grace_s=0.1, poll_s=0.01)) as watchdog:
        with watchdog.watching(check, ended.append) as watch:
            assert released.wait(10)  # one long call that checks nothing
            assert not watch.claim()  # the watchdog has it: the caller must not record it
    stopped, then = ended
    assert isinstance(stopped, DeadlineExceeded) and then == "process ended"
    assert str(stopped).startswith(
        "trial_timeout_s=0.05 exceeded (the trial did not stop within 0.1 s, "
        "so its worker process was ended)"
    )


def test_a_run_that_stops_within_its_grace_is_left_to_record_itself():
    ended = []
    check = StopCheck(deadline=soon(0.0), limit="trial_timeout_s=0")
    with Watchdog(HardStop(lambda: ended.append("end"), grace_s=5, poll_s=0.01)) as watchdog:
        with watchdog.watching(check, ended.append) as watch:
            time.sleep(0.1)  # the watchdog has seen the deadline pass, for less than 5 s
            assert watch.claim()
    assert ended == []


def test_a_cancel_reaches_a_run_that_checks_nothing():
    ended, released = [], threading.Event()
    check = StopCheck(lambda: True)
    with Watchdog(HardStop(released.set, grace_s=0, poll_s=0.01)) as watchdog:
        with watchdog.watching(check, ended.append):
            assert released.wait(10)
    [stopped] = ended
    assert isinstance(stopped, Cancelled) and str(stopped).startswith("cancelled (the trial")


def test_without_a_hard_stop_nothing_watches():
    with Watchdog(None) as watchdog:
        with watchdog.watching(StopCheck(lambda: True), pytest.fail) as watch:
            time.sleep(0.05)
            assert watch.claim()


# --- the engine: a logistic regression whose fit never returns by itself


class ProcessEnded(BaseException):
    """Stands for the end of the runner's process."""


@pytest.fixture
def stuck_fits(monkeypatch):
    """Which calls (0-based) of logistic_regression's fit block until the watchdog ends
    the process; the others fit as usual."""
    fit = FAMILIES["logistic_regression"].fit
    calls, stuck, released = [], set(), threading.Event()

    def maybe_stuck(params, X, y, ctx):
        calls.append(len(calls))
        if calls[-1] in stuck:
            assert released.wait(60), "the watchdog never ended the trial"
        return fit(params, X, y, ctx)

    def wait_for_end():
        raise ProcessEnded

    monkeypatch.setattr(FAMILIES["logistic_regression"], "fit", maybe_stuck)
    monkeypatch.setattr(engine, "wait_for_end", wait_for_end)
    return SimpleNamespace(calls=stuck, hard_stop=HardStop(released.set, grace_s=0.2, poll_s=0.02))


def start(n_trials, **extra):
    raw = {"model": "logistic_regression", "n_trials": n_trials, **extra}
    config = validate_hpo_config(
        {"sampler": {"name": "random", "seed": 1}, **raw}, "classification"
    )
    storage = make_storage(None)
    engine.create_study(config, storage, "job")
    return config, storage


def run(config, storage, data, hard_stop, reporter=None):
    reporter = reporter or MemoryReporter()
    stopped = engine.run_trials(config, data, reporter, storage, "job", hard_stop=hard_stop)
    return stopped, reporter


def trials(storage):
    return storage.get_all_trials(storage.get_study_id_from_name("job"))


def test_a_stuck_trial_fails_as_time_limit_and_the_next_runner_goes_on(iris_data, stuck_fits):
    stuck_fits.calls.add(0)
    config, storage = start(2, trial_timeout_s=3)  # ample for the next, real fit
    reporter = MemoryReporter()
    with pytest.raises(ProcessEnded):
        run(config, storage, iris_data, stuck_fits.hard_stop, reporter)
    [first] = trials(storage)
    assert first.state == TrialState.FAIL
    assert first.system_attrs[FAILURE_CLASS] == "time_limit"
    error = "DeadlineExceeded: trial_timeout_s=3 exceeded (the trial did not stop within 0.2 s"
    assert first.system_attrs["error"].startswith(error)
    assert reporter.finished[0]["state"] == "failed"
    assert reporter.finished[0]["error"].startswith(error)
    assert reporter.records[0].failure_class == "time_limit"

    # The worker hands the runner to a fresh process: it runs the next trial.
    stopped, again = run(config, storage, iris_data, stuck_fits.hard_stop)
    assert not stopped
    assert [t.state for t in trials(storage)] == [TrialState.FAIL, TrialState.COMPLETE]
    assert [f["number"] for f in again.finished] == [1]


def test_a_trial_past_the_jobs_timeout_ends_the_search(iris_data, stuck_fits):
    stuck_fits.calls.add(1)  # the second trial: the job's timeout reaches trials after the first
    # Three seconds: room for one forest's fit on a loaded machine (at 1 s a fresh runner's
    # first trial after the extend was ended by the timeout too, under a concurrent CI run).
    config, storage = start(5, timeout_s=3)
    with pytest.raises(ProcessEnded):
        run(config, storage, iris_data, stuck_fits.hard_stop)
    assert [t.state for t in trials(storage)] == [TrialState.COMPLETE, TrialState.FAIL]
    assert (
        "timeout_s=3 exceeded (the trial did not stop" in trials(storage)[1].system_attrs["error"]
    )

    stopped, again = run(config, storage, iris_data, stuck_fits.hard_stop)
    assert not stopped and again.started == []  # its budget ended with that trial
    result = engine.summarize(config, storage, "job")
    assert (result.n_complete, result.n_failed) == (1, 1)

    engine.extend_budget(storage, "job", 1)  # a user continues the job: it runs on
    run(config, storage, iris_data, stuck_fits.hard_stop)
    assert len(trials(storage)) > 2


def test_a_stuck_trial_whose_policy_stops_the_job_fails_it(iris_data, stuck_fits):
    stuck_fits.calls.add(0)
    config, storage = start(
        3, trial_timeout_s=0.3, retry={"time_limit": {"action": "stop", "after": 1}}
    )
    with pytest.raises(ProcessEnded):
        run(config, storage, iris_data, stuck_fits.hard_stop)
    with pytest.raises(engine.TrialsFailing, match=r"failed with time limit") as failing:
        run(config, storage, iris_data, stuck_fits.hard_stop)
    assert failing.value.failure_class == "time_limit"
    assert len(trials(storage)) == 1


def test_the_platforms_longest_trial_bounds_every_trial(iris_data, stuck_fits):
    stuck_fits.calls.add(0)
    config, storage = start(1)  # no trial_timeout_s
    with pytest.raises(ProcessEnded):
        engine.run_trials(
            config,
            iris_data,
            MemoryReporter(),
            storage,
            "job",
            max_trial_s=0.3,
            hard_stop=stuck_fits.hard_stop,
        )
    assert "TRIAL_MAX_S=0.3 exceeded" in trials(storage)[0].system_attrs["error"]

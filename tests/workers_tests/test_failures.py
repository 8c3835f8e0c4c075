"""Failure classes, retry policies and trial logs in the engine (no Django, no workers)."""

import logging
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from workers import failures
from workers.config import ConfigError
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import HpoError, TrialsFailing, run_hpo
from workers.reporter import MemoryReporter
from workers.training.stopping import Cancelled, DeadlineExceeded
from workers.trial_log import TrialLog, install_record_ids, log_context, redact

TINY_MLP = {
    "hidden_units": {"type": "fixed", "value": 8},
    "epochs": {"type": "fixed", "value": 3},
    "batch_size": {"type": "categorical", "choices": [64]},
}


def config(n_trials, model="random_forest", space=None, **extra):
    raw = {"model": model, "n_trials": n_trials, "sampler": {"name": "tpe", "seed": 7}, **extra}
    if space is not None:
        raw["search_space"] = space
    return validate_hpo_config(raw, "classification")


def raised(fn):
    try:
        fn()
    except Exception as e:
        return e
    raise AssertionError("it did not raise")


def test_it_classifies_what_libraries_raise():
    nan_rows = np.array([[np.nan, 1.0], [0.0, 1.0]])
    bad_param = raised(lambda: LogisticRegression(C=-1.0).fit([[0.0], [1.0]], [0, 1]))
    nan_x = raised(lambda: LogisticRegression().fit(nan_rows, [0, 1]))
    text_cell = raised(lambda: np.array(["1.5", "n/a"]).astype(float))
    huge = raised(lambda: np.empty(2**62, dtype=np.uint8))
    try:
        raise RuntimeError("trial failed") from MemoryError()
    except RuntimeError as e:
        wrapped_oom = e
    cases = {
        failures.INVALID_CONFIG: bad_param,
        failures.DATA: nan_x,
        failures.OOM: huge,
        failures.TIME_LIMIT: DeadlineExceeded("trial_timeout_s=1 exceeded"),
        failures.CANCELLED: Cancelled("cancelled"),
        failures.NUMERICAL: failures.NumericalError("the training loss is nan in epoch 0"),
        failures.BUG: KeyError("oops"),
    }
    for expected, exc in cases.items():
        assert failures.classify(exc) == expected, (expected, exc)
    assert failures.classify(text_cell) == failures.DATA
    assert failures.classify(wrapped_oom) == failures.OOM
    assert failures.classify(None, lost=True) == failures.INFRASTRUCTURE
    assert failures.classify_text("OperationalError: server closed the connection") == (
        failures.INFRASTRUCTURE
    )
    assert failures.classify_text("ValueError: Input y_pred contains NaN.") == failures.NUMERICAL


def test_retry_policies_are_validated_with_the_field_named():
    filled = config(1).retry
    assert filled[failures.OOM] == {"action": "smaller", "attempts": 2, "after": 3}
    assert filled[failures.DATA]["action"] == "stop"
    with pytest.raises(ConfigError) as caught:
        config(1, retry={"oom": "lower_lr", "data": {"after": 0}, "disk": "rerun"})
    assert set(caught.value.errors) == {"retry.oom.action", "retry.data.after", "retry.disk"}
    assert config(1, retry={"bug": "rerun"}).retry["bug"]["action"] == "rerun"


def test_plan_retry_halves_the_batch_lowers_the_rate_and_stops_at_attempts():
    smaller = {"action": "smaller", "attempts": 2, "after": 3}
    planned = failures.plan_retry(smaller, {"batch_size": 64, "lr": 0.1}, {}, 0)
    assert planned.params["batch_size"] == 32 and planned.change == {"batch_size": [64, 32]}
    fewer = failures.plan_retry(smaller, {}, {"processes": 4}, 1)
    assert fewer.change == {"trainer.processes": [4, 2]}
    assert failures.trainer_changes(fewer.change) == {"processes": 2}
    assert failures.plan_retry(smaller, {"batch_size": 64}, {}, 2) is None  # attempts spent
    assert failures.plan_retry(smaller, {"max_depth": 3}, {}, 0) is None  # nothing smaller
    lower = failures.plan_retry({"action": "lower_lr", "attempts": 1}, {"lr": 10.0}, {}, 0)
    assert lower.change == {"lr": [10.0, 1.0]}


def test_a_nan_loss_is_numerical_and_retried_once_with_a_lower_rate_in_the_same_budget(
    iris_data,
):
    space = {**TINY_MLP, "lr": {"type": "fixed", "value": 1e35}}  # Adam steps of ~lr
    reporter = MemoryReporter()
    with pytest.raises(HpoError, match="all 2 trials failed"):
        run_hpo(config(1, "mlp", space), iris_data, reporter)
    first, retry = reporter.finished
    assert first["state"] == retry["state"] == "failed"
    assert reporter.records[0].failure_class == failures.NUMERICAL
    assert reporter.records[1].retry_of == 0
    assert reporter.records[1].retry_change == {"lr": [1e35, pytest.approx(1e34)]}
    assert retry["params"]["lr"] == pytest.approx(1e34)
    # One place in the budget: the retry took the failed trial's, and was not retried again.
    assert len(reporter.finished) == 2


def test_an_oom_is_retried_with_half_the_batch(iris_data, monkeypatch):
    from workers.hpo.families import mlp

    real_fit = mlp.MLPFamily.fit

    def fit(self, params, X, y, ctx):
        if params["batch_size"] > 32:
            np.empty(2**62, dtype=np.uint8)  # numpy's MemoryError, as a real OOM raises
        return real_fit(self, params, X, y, ctx)

    monkeypatch.setattr(mlp.MLPFamily, "fit", fit)
    reporter = MemoryReporter()
    result = run_hpo(
        config(2, "mlp", {**TINY_MLP, "lr": {"type": "fixed", "value": 0.01}}), iris_data, reporter
    )
    failed = [f for f in reporter.finished if f["state"] == "failed"]
    complete = [f for f in reporter.finished if f["state"] == "complete"]
    assert len(failed) == 2 and len(complete) == 2  # two places, each filled by a retry
    assert all(reporter.records[f["number"]].failure_class == "oom" for f in failed)
    assert all(f["params"]["batch_size"] == 32 for f in complete)
    assert {reporter.records[f["number"]].retry_change["batch_size"][1] for f in complete} == {32}
    assert result.n_complete == 2


def test_data_errors_stop_the_job_naming_the_cause(iris_data, monkeypatch):
    from workers.hpo.families import forest

    def fit(self, params, X, y, ctx):
        raise ValueError("could not convert string to float: 'n/a'")

    monkeypatch.setattr(forest.RandomForestFamily, "fit", fit)
    reporter = MemoryReporter()
    with pytest.raises(TrialsFailing, match="2 trials failed with data error") as caught:
        run_hpo(config(5, retry={"data": {"action": "stop", "after": 2}}), iris_data, reporter)
    assert caught.value.failure_class == "data"
    assert "could not convert string to float" in str(caught.value)
    assert len(reporter.finished) == 2


def test_a_trial_log_holds_prints_and_logging_bounded_and_redacted(iris_data, monkeypatch):
    from workers import trial_log
    from workers.hpo.families import forest

    real_fit = forest.RandomForestFamily.fit

    def fit(self, params, X, y, ctx):
        print("fitting with password=hunter22 and token: abc123456789")
        logging.getLogger("user.code").warning("from postgres://bob:s3cret@db/x")
        print("x" * 300)
        return real_fit(self, params, X, y, ctx)

    monkeypatch.setattr(forest.RandomForestFamily, "fit", fit)
    monkeypatch.setattr(trial_log, "HEAD_CHARS", 120)
    monkeypatch.setattr(trial_log, "TAIL_CHARS", 100)
    reporter = MemoryReporter()
    run_hpo(config(1), iris_data, reporter)
    text = reporter.records[0].log
    assert "fitting with password=[redacted]" in text and "hunter22" not in text
    assert "abc123456789" not in text
    assert "characters left out" in text and len(text) < 400
    assert text.endswith("x" * 50 + "\n")


def test_secrets_of_the_environment_are_redacted(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "AKIAVERYSECRETVALUE")
    assert redact("key is AKIAVERYSECRETVALUE") == "key is [redacted]"


def test_log_records_name_the_job_and_trial(caplog):
    install_record_ids()
    with log_context(job=7), log_context(trial=3):
        logging.getLogger("x").warning("hello")
    logging.getLogger("x").warning("outside")
    assert [r.ids for r in caplog.records] == ["job 7 trial 3 ", ""]


def test_the_capture_restores_the_streams():
    import sys

    before = sys.stdout, sys.stderr
    log = TrialLog()
    with log.capture():
        print("inside")
    assert (sys.stdout, sys.stderr) == before and log.text == "inside\n"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RLIMIT_AS is Linux's")
def test_a_trial_over_its_memory_cap_fails_as_oom_and_is_retried_with_half_the_batch(
    iris_data, monkeypatch
):
    from workers.hpo.families import mlp

    real_fit = mlp.MLPFamily.fit

    def fit(self, params, X, y, ctx):
        # 256 MiB: past malloc's largest mmap threshold (32 MiB), so mapped anew, past the
        # cap, whatever the heap of this long-lived test process has free.
        np.ones(2**25)
        return real_fit(self, params, X, y, ctx)

    monkeypatch.setattr(mlp.MLPFamily, "fit", fit)
    space = {**TINY_MLP, "lr": {"type": "fixed", "value": 0.01}}
    cfg = config(1, "mlp", space, trial_memory_mb=16, retry={"oom": {"attempts": 1}})
    reporter = MemoryReporter()
    with pytest.raises(TrialsFailing, match="all 2 trials failed") as caught:
        run_hpo(cfg, iris_data, reporter)
    assert caught.value.failure_class == "oom"
    assert [r.failure_class for r in reporter.records.values()] == ["oom", "oom"]
    assert reporter.records[1].retry_change == {"batch_size": [64, 32]}
    np.ones(2**20)  # the cap is lifted once the trial ends


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RLIMIT_AS is Linux's")
def test_source_unreadable_under_the_cap_is_out_of_memory_not_a_bug(monkeypatch):
    """linecache swallows the MemoryError of a capped allocation and inspect then says it
    "could not get source code" (a lazy import reading its own source, as torch's do):
    the trial failed for memory, not for a bug in its code."""
    import inspect
    import linecache

    from workers import failures
    from workers.memory import memory_cap

    def capped_read(filename, module_globals=None):
        raise MemoryError  # what reading the file under the cap raised

    monkeypatch.setattr(linecache, "updatecache", capped_read)
    linecache.clearcache()
    with pytest.raises(OSError, match="could not get source code"):  # without the cap
        inspect.getsource(failures.classify)
    with pytest.raises(MemoryError, match="cap of 64 MB") as caught, memory_cap(64):
        inspect.getsource(failures.classify)
    assert failures.classify(caught.value) == "oom"
    with pytest.raises(OSError, match="no such file"), memory_cap(64):  # other OSErrors stay
        raise OSError("no such file")

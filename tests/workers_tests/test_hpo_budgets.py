"""Budgets: trial_timeout_s, patience, timeout_s and n_trials."""

import time

import numpy as np
import pytest

from workers.hpo import families
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import HpoError, run_hpo
from workers.hpo.objective import trial_stop
from workers.reporter import MemoryReporter
from workers.training.stopping import Cancelled, DeadlineExceeded


def config(n_trials, model="mlp", space=None, **extra):
    raw = {"model": model, "n_trials": n_trials, "sampler": {"name": "random", "seed": 1}, **extra}
    if space is not None:
        raw["search_space"] = space
    return validate_hpo_config(raw, "classification")


def test_trial_timeout_stops_an_iterative_trial_at_its_next_step(iris_data):
    space = {
        "epochs": {"type": "fixed", "value": 50},
        "hidden_units": {"type": "fixed", "value": 8},
    }
    reporter = MemoryReporter()
    with pytest.raises(HpoError, match="all 1 trials failed"):
        run_hpo(config(1, space=space, trial_timeout_s=1e-6), iris_data, reporter)
    [trial] = reporter.finished
    assert trial["state"] == "failed"
    # Inside the first epoch: the training loop checks the deadline after every step.
    assert "trial_timeout_s=1e-06 exceeded (in epoch 0, after step 1 of" in trial["error"]
    assert trial["intermediate_values"] == {}  # stopped before its first value was reported


class CancelOnStart(MemoryReporter):
    """Cancels the job as soon as its first trial starts."""

    def trial_started(self, number, params):
        super().trial_started(number, params)
        self.stop_after = 0


def test_a_cancel_stops_a_trial_inside_its_training(iris_data):
    space = {
        "epochs": {"type": "fixed", "value": 1000},
        "hidden_units": {"type": "fixed", "value": 8},
    }
    reporter = CancelOnStart()
    result = run_hpo(config(3, space=space), iris_data, reporter)
    assert result.stopped
    [trial] = reporter.finished  # no further trial was asked
    assert trial["state"] == "failed"
    assert "Cancelled: cancelled (in epoch 0, after step 1 of" in trial["error"]


def test_trial_timeout_fails_a_one_shot_fit_once_it_returns(iris_data):
    reporter = MemoryReporter()
    with pytest.raises(HpoError):
        run_hpo(config(2, "logistic_regression", trial_timeout_s=1e-6), iris_data, reporter)
    assert [f["state"] for f in reporter.finished] == ["failed", "failed"]
    assert "exceeded (after fitting split 1 of 1)" in reporter.finished[0]["error"]


def test_a_trial_stops_at_the_earlier_of_its_own_and_the_jobs_deadline():
    cfg = config(1, trial_timeout_s=3600, timeout_s=60)
    with pytest.raises(DeadlineExceeded, match=r"timeout_s=60 exceeded \(here\)"):
        trial_stop(cfg, job_deadline=time.monotonic() - 1)("here")
    trial_stop(cfg)("here")  # an hour of trial_timeout_s left and no job deadline: goes on
    with pytest.raises(Cancelled, match=r"cancelled \(here\)"):
        trial_stop(cfg, lambda: True)("here")


class Constant:
    def __init__(self, label):
        self.label = label

    def predict(self, X):
        return np.full(len(X), self.label)


def test_patience_stops_after_trials_without_a_new_best(iris_data, monkeypatch):
    labels = iter([0, 1, 1, 2, 0, 0, 0, 0, 0, 0])  # accuracy 1/3 each time: no improvement

    def fit(params, X, y, ctx):
        return Constant(next(labels))

    monkeypatch.setattr(families.FAMILIES["knn"], "fit", fit)
    reporter = MemoryReporter()
    result = run_hpo(config(10, "knn", patience=3), iris_data, reporter)
    assert len(reporter.finished) == 4 and result.best_number == 0 and not result.stopped


def test_timeout_stops_between_trials(iris_data):
    reporter = MemoryReporter()
    result = run_hpo(config(5, "knn", timeout_s=1e-9), iris_data, reporter)
    assert len(reporter.finished) == 1 and not result.stopped
    assert reporter.progress_values == [1.0]

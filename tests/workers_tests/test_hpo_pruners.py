"""Contract test run over every registered pruner, plus the iterative families' steps."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from workers.hpo import families
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import run_hpo
from workers.hpo.pruners import PRUNERS
from workers.reporter import MemoryReporter

STEPS = 9


class Constant:
    def __init__(self, label):
        self.label = label

    def predict(self, X):
        return np.full(len(X), self.label)


def config(pruner, n_trials, model="mlp", space=None):
    raw = {
        "model": model,
        "n_trials": n_trials,
        "pruner": pruner,
        "sampler": {"name": "random", "seed": 0},
    }
    if space is not None:
        raw["search_space"] = space
    return validate_hpo_config(raw, "classification")


@pytest.mark.parametrize("name", list(PRUNERS))
def test_it_prunes_bad_trials_and_keeps_their_curves(iris_data, monkeypatch, name):
    calls = []

    def fit(params, X, y, ctx):  # five good trials, then bad ones
        calls.append(1)
        model = LogisticRegression(max_iter=500).fit(X, y) if len(calls) <= 5 else Constant(-1)
        for step in range(STEPS):
            ctx.on_step(step, model)
        return model

    monkeypatch.setattr(families.FAMILIES["mlp"], "fit", fit)
    reporter = MemoryReporter()
    result = run_hpo(config(name, 12), iris_data, reporter)
    curves = {f["number"]: f["intermediate_values"] for f in reporter.finished}
    assert result.n_complete + result.n_pruned == 12
    assert all(len(curves[n]) == STEPS for n in range(5))  # the good ones ran to the end
    pruned = [f for f in reporter.finished if f["state"] == "pruned"]
    if name == "none":
        assert not pruned
    else:
        assert pruned and all(0 < len(f["intermediate_values"]) < STEPS for f in pruned)
        assert all(f["number"] >= 5 for f in pruned)


@pytest.mark.parametrize(
    ("model", "size", "steps"),
    [
        ("random_forest", "n_estimators", [3, 3]),  # 10, 20, 25 trees; 10, 20, 30
        ("hist_gradient_boosting", "max_iter", [3, 3]),
    ],
)
def test_iterative_sklearn_families_report_growth_steps(iris_data, model, size, steps):
    space = {size: {"type": "categorical", "choices": [25, 30]}}
    reporter = MemoryReporter()
    run_hpo(config("successive_halving", 2, model, space), iris_data, reporter)
    assert [len(f["intermediate_values"]) for f in reporter.finished] == steps

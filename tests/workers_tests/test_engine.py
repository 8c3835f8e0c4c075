import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from workers.hpo import families
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import HpoError, run_hpo
from workers.reporter import MemoryReporter

SMALL_RF = {
    "n_estimators": {"type": "int", "low": 10, "high": 30},
    "max_depth": {"type": "int", "low": 2, "high": 6},
}
SMALL_MLP = {
    "hidden_units": {"type": "int", "low": 8, "high": 32, "log": True},
    "lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
    "epochs": {"type": "fixed", "value": 3},
}


def config(n_trials, model="random_forest", space=None, **extra):
    raw = {"model": model, "n_trials": n_trials, "sampler": {"name": "tpe", "seed": 7}, **extra}
    if space is not None:
        raw["search_space"] = space
    return validate_hpo_config(raw, "classification")


def test_random_forest_on_iris(iris_data):
    reporter = MemoryReporter()
    result = run_hpo(config(5), iris_data, reporter)
    assert result.best_value > 0.9 and result.n_complete == 5 and not result.stopped
    assert result.best_params == reporter.finished[result.best_number]["params"]
    assert [f["number"] for f in reporter.finished] == [0, 1, 2, 3, 4]
    assert all(f["state"] == "complete" and len(f["values"]) == 1 for f in reporter.finished)
    assert reporter.progress_values == sorted(set(reporter.progress_values))
    assert reporter.progress_values[-1] == 1.0


def test_mlp_with_median_pruner_reports_curves(iris_data):
    reporter = MemoryReporter()
    result = run_hpo(config(2, "mlp", SMALL_MLP, pruner="median"), iris_data, reporter)
    assert result.n_complete == 2
    assert [len(f["intermediate_values"]) for f in reporter.finished] == [3, 3]
    assert [(n, s) for n, s, _ in reporter.reported] == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
    ]


class Constant:
    """A fitted 'model' that predicts one label."""

    def __init__(self, label):
        self.label = label

    def predict(self, X):
        return np.full(len(X), self.label)


def test_pruned_trials_keep_their_curve(iris_data, monkeypatch):
    calls = []

    def fake_fit(params, X, y, ctx):
        calls.append(1)
        good = len(calls) <= 5  # later trials are clearly worse
        model = LogisticRegression(max_iter=500).fit(X, y) if good else Constant(-1)
        for step in range(10):
            ctx.on_step(step, model)
        return model

    monkeypatch.setattr(families.FAMILIES["mlp"], "fit", fake_fit)
    reporter = MemoryReporter()
    result = run_hpo(config(7, "mlp", SMALL_MLP, pruner="median"), iris_data, reporter)
    assert (result.n_complete, result.n_pruned) == (5, 2)
    pruned = [f for f in reporter.finished if f["state"] == "pruned"]
    # MedianPruner(n_startup_trials=5, n_warmup_steps=5) first prunes at step 5.
    assert [sorted(f["intermediate_values"]) for f in pruned] == [list(range(6))] * 2
    # As Optuna shows a pruned trial: its value is its last intermediate value.
    assert all(f["values"] == [f["intermediate_values"][5]] for f in pruned)


def test_same_seeds_same_params(iris_data):
    runs = [MemoryReporter() for _ in range(2)]
    for reporter in runs:
        run_hpo(config(4, seed=3), iris_data, reporter)
    assert [f["params"] for f in runs[0].finished] == [f["params"] for f in runs[1].finished]


def test_auto_model_with_cv(iris_data):
    cfg = validate_hpo_config(
        {
            "n_trials": 3,
            "sampler": {"name": "random", "seed": 0},
            "validation": {"method": "cv", "folds": 2},
            "search_space": {
                "model": {
                    "type": "categorical",
                    "choices": ["logistic_regression", "random_forest"],
                }
            },
        },
        "classification",
    )
    reporter = MemoryReporter()
    result = run_hpo(cfg, iris_data, reporter)
    assert result.n_complete == 3
    assert result.best_params["model"] in ("logistic_regression", "random_forest")
    assert all(
        k == "model" or k.startswith(result.best_params["model"] + ".") for k in result.best_params
    )


def test_should_stop_is_honoured(iris_data):
    reporter = MemoryReporter(stop_after=2)
    result = run_hpo(config(5), iris_data, reporter)
    assert result.stopped and len(reporter.finished) == 2 and result.n_complete == 2


def test_timeout_stops_between_trials(iris_data):
    reporter = MemoryReporter()
    result = run_hpo(config(5, timeout_s=1e-9), iris_data, reporter)
    assert len(reporter.finished) == 1 and not result.stopped
    assert reporter.progress_values == [1.0]


def test_failing_trials(iris_data, monkeypatch):
    real = families.FAMILIES["random_forest"].fit
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(families.FAMILIES["random_forest"], "fit", flaky)
    reporter = MemoryReporter()
    result = run_hpo(config(3), iris_data, reporter)
    assert [f["state"] for f in reporter.finished] == ["complete", "failed", "complete"]
    assert reporter.finished[1]["error"] == "RuntimeError: boom"
    assert (result.n_complete, result.n_failed) == (2, 1)

    def broken(*args, **kwargs):
        raise ValueError("bad data")

    monkeypatch.setattr(families.FAMILIES["random_forest"], "fit", broken)
    with pytest.raises(HpoError, match="all 2 trials failed; first error: ValueError: bad data"):
        run_hpo(config(2), iris_data, MemoryReporter())


def test_auto_model_importances_weigh_each_familys_own_parameters():
    from workers.data.builtin import load_builtin

    cfg = validate_hpo_config(
        {
            "n_trials": 12,
            "sampler": {"name": "random", "seed": 0},
            "search_space": {
                "model": {
                    "type": "categorical",
                    "choices": ["logistic_regression", "random_forest"],
                }
            },
        },
        "classification",
    )
    reporter = MemoryReporter()
    result = run_hpo(cfg, load_builtin("wine"), reporter)
    # Study-wide, only `model` is shared by every trial; within a family, its own params,
    # for every family whose trials' scores differ (a flat score teaches nothing).
    assert set(result.importances) == {"model"}
    scores: dict[str, set] = {}
    for trial in reporter.finished:
        scores.setdefault(trial["params"]["model"], set()).add(trial["values"][0])
    varied = {family for family, values in scores.items() if len(values) > 1}
    assert "random_forest" in varied
    assert set(result.importances_by_family) == varied
    for family, found in result.importances_by_family.items():
        assert found and all(name.startswith(f"{family}.") for name in found), found
        assert abs(sum(found.values()) - 1.0) < 1e-6


@pytest.mark.parametrize(
    ("model", "space", "moves"),
    [
        # 4 epochs of 112 rows in batches of 16: a few progress reports within each epoch.
        ("mlp", {**SMALL_MLP, "epochs": {"type": "fixed", "value": 4}}, 8),
        # 30 trees grown 10 at a time: a report after each growth step but the last.
        ("random_forest", {"n_estimators": {"type": "fixed", "value": 30}}, 2),
    ],
)
def test_progress_moves_within_a_trial(iris_data, model, space, moves):
    reporter = MemoryReporter()
    run_hpo(config(2, model, space), iris_data, reporter)
    first_trial = [p for p in reporter.progress_values if p < 0.5]  # of 2 trials
    assert len(first_trial) >= moves, reporter.progress_values
    assert all(0 < p < 0.5 for p in first_trial)
    assert reporter.progress_values == sorted(set(reporter.progress_values))
    assert reporter.progress_values[-1] == 1.0

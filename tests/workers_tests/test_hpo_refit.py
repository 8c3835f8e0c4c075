"""The held-out test split, refit_best, warm start and the data set's preprocessing hooks."""

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import optuna
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import FunctionTransformer

from workers.data.tabular import TabularData
from workers.hpo.config import validate_hpo_config
from workers.hpo.engine import create_study, refit_best, run_hpo, run_trials
from workers.models.artifacts import load_model, load_transformer
from workers.reporter import MemoryReporter
from workers.studies.storage import make_storage


def config(n_trials=3, **extra):
    raw = {
        "model": "logistic_regression",
        "n_trials": n_trials,
        "sampler": {"name": "random", "seed": 0},
        **extra,
    }
    return validate_hpo_config(raw, "classification")


def test_refit_best_scores_the_held_out_rows_and_saves_the_model(iris_data, tmp_path):
    cfg = config(test_size=0.3)
    storage = make_storage(None)
    create_study(cfg, storage, "s")
    run_trials(cfg, iris_data, MemoryReporter(), storage, "s")
    refit = refit_best(cfg, iris_data, storage, "s", tmp_path)
    assert refit["test_rows"] == 45 and refit["family"] == "logistic_regression"
    assert refit["test_metrics"]["accuracy"] > 0.8 and "roc_auc" in refit["test_metrics"]
    assert refit["files"] == ["model.skops", "spec.json", "reference.json"]
    spec = json.loads((tmp_path / "spec.json").read_text())
    # What serving checks rows against, and what drift checks compare traffic with.
    assert spec["features"] == iris_data.feature_names
    reference = json.loads((tmp_path / "reference.json").read_text())
    assert reference["n_rows"] == 105 and set(reference["features"]) == set(
        iris_data.feature_names
    )
    assert spec["family"] == "logistic_regression" and spec["params"] == {
        "C": pytest.approx(refit["params"]["C"])
    }
    assert load_model(tmp_path).predict(iris_data.X[:3]).shape == (3,)


def test_trials_never_see_the_test_rows(iris_data, monkeypatch):
    from workers.hpo import families

    seen = []
    real = families.FAMILIES["logistic_regression"].fit
    monkeypatch.setattr(
        families.FAMILIES["logistic_regression"],
        "fit",
        lambda p, X, y, ctx: seen.append(len(X)) or real(p, X, y, ctx),
    )
    run_hpo(config(1, validation={"method": "cv", "folds": 2}), iris_data, MemoryReporter())
    assert seen == [60, 60]  # 150 rows - 30 test rows, in two folds


def test_warm_start_adds_finished_trials_and_enqueues_the_rest(iris_data):
    warm = {
        "trials": [
            {"params": {"C": 0.5}, "values": [0.9]},
            {"params": {"C": 7.0}, "values": None},
            {"params": {"alpha": 1.0}, "values": [0.5]},
        ]
    }  # does not fit: skipped
    reporter = MemoryReporter()
    result = run_hpo(config(2, warm_start=warm), iris_data, reporter)
    assert [f["number"] for f in reporter.finished] == [1, 2]
    assert reporter.finished[0]["params"] == {"C": 7.0}
    assert result.n_complete == 2  # the warm-start trial informs, but does not count


@dataclasses.dataclass
class PreprocessedData(TabularData):
    """TabularData with the optional hooks an uploaded data set brings."""

    make_transformer: Callable | None = None
    feature_space: dict = dataclasses.field(default_factory=dict)


def test_the_data_sets_transformer_is_searched_fitted_per_trial_and_saved(iris_data, tmp_path):
    asked = []

    def make_transformer(fe: dict):
        asked.append(fe)
        return PCA(n_components=fe["fe.components"]) if fe["fe.pca"] else FunctionTransformer()

    data = PreprocessedData(
        **vars(iris_data),
        make_transformer=make_transformer,
        feature_space={
            "fe.pca": {"type": "categorical", "choices": [True, False]},
            "components": {"type": "int", "low": 2, "high": 3},
        },
    )
    cfg = config(3)
    storage = make_storage(None)
    create_study(cfg, storage, "s")
    reporter = MemoryReporter()
    run_trials(cfg, data, reporter, storage, "s")
    assert all(set(f["params"]) == {"C", "fe.pca", "fe.components"} for f in reporter.finished)
    assert len(asked) == 3
    refit = refit_best(cfg, data, storage, "s", tmp_path)
    assert "preprocessing.skops" in refit["files"]
    X = load_transformer(tmp_path).transform(iris_data.X)
    assert np.mean(load_model(tmp_path).predict(X) == iris_data.y) > 0.8


def test_study_creation_is_idempotent(iris_data):
    storage = make_storage(None)
    warm = {"trials": [{"params": {"C": 0.5}, "values": [0.9]}]}
    for _ in range(2):
        create_study(config(warm_start=warm), storage, "s")
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 1

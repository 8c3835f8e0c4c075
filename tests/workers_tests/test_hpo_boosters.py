"""LightGBM and XGBoost: the trial's pruner sees them round by round and can stop them
inside one fit; their own early stopping ends a long fit; model "auto" offers them."""

import numpy as np
import optuna
import pytest

from workers.data.builtin import load_builtin
from workers.hpo.config import default_space
from workers.hpo.families import FAMILIES, FitContext
from workers.training.measure import count_params

BOOSTERS = ["lightgbm", "xgboost"]


@pytest.fixture(scope="module")
def wine():
    data = load_builtin("wine")
    return data.X, data.y


@pytest.mark.parametrize("name", BOOSTERS)
def test_the_pruner_sees_each_growth_step_and_can_stop_the_fit(wine, name):
    X, y = wine
    seen = []

    def on_step(step, model):
        seen.append((step, float(np.mean(model.predict(X) == y))))
        assert model.predict_proba(X).shape == (len(y), 3)
        if step == 2:
            raise optuna.TrialPruned()

    ctx = FitContext("classification", seed=0, on_step=on_step)
    with pytest.raises(optuna.TrialPruned):
        FAMILIES[name].fit({"n_estimators": 200, "early_stopping_rounds": 1000}, X, y, ctx)
    assert [step for step, _ in seen] == [0, 1, 2]
    assert seen[-1][1] > 0.8  # the view predicts with the rounds trained so far


@pytest.mark.parametrize("name", BOOSTERS)
def test_native_early_stopping_ends_a_long_fit(wine, name):
    X, y = wine
    model = FAMILIES[name].fit(
        {"n_estimators": 3000, "learning_rate": 0.3, "early_stopping_rounds": 5},
        X,
        y,
        FitContext("classification", seed=0),
    )
    best = model.best_iteration_ if name == "lightgbm" else model.best_iteration
    assert 0 < best < 100  # the rounds stopped long before 3000
    assert np.mean(model.predict(X) == y) > 0.9 and count_params(model) > 0


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_model_auto_offers_both(task):
    assert set(BOOSTERS) <= set(default_space("auto", task)["model"]["choices"])

import optuna
import pytest
from optuna.trial import FixedTrial

from workers.hpo.config import validate_hpo_config
from workers.hpo.metrics import METRICS, TASK_METRICS, score
from workers.hpo.space import distributions, family_params, suggest


def test_suggest_flattens_conditional_params_and_keeps_fixed():
    space = validate_hpo_config({}, "classification").search_space
    params = suggest(
        FixedTrial(
            {
                "model": "mlp",
                "mlp.hidden_layers": 2,
                "mlp.hidden_units": 32,
                "mlp.lr": 0.01,
                "mlp.batch_size": 16,
                "mlp.dropout": 0.1,
                "mlp.weight_decay": 0.0,
                "mlp.epochs": 20,
            }
        ),
        space,
    )
    assert params["model"] == "mlp" and params["mlp.epochs"] == 20
    assert not any(k.startswith("random_forest.") for k in params)
    own = family_params(params, "mlp")
    assert own["hidden_units"] == 32 and "model" not in own


def test_distributions_round_trip_through_create_trial():
    space = validate_hpo_config({}, "regression").search_space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        params = suggest(trial, space)
        assert set(distributions(space, params)) == set(params) == set(trial.params)
        study.tell(trial, 0.0)
        frozen = optuna.trial.create_trial(
            value=0.0, params=params, distributions=distributions(space, params)
        )
        assert frozen.params == params


def test_nested_choice_prefix_and_non_string_choices():
    space = validate_hpo_config(
        {
            "model": "mlp",
            "search_space": {
                "batch_size": {
                    "type": "categorical",
                    "choices": [16, 32],
                    "conditional": {"16": {"lr": {"type": "fixed", "value": 0.1}}},
                }
            },
        },
        "classification",
    ).search_space
    params = suggest(FixedTrial({"batch_size": 16, "16.lr": 0.1}), space)
    assert params == {"batch_size": 16, "16.lr": 0.1}
    assert family_params(params) == {"batch_size": 16, "lr": 0.1}


def test_metric_directions():
    assert {m: METRICS[m].direction for m in METRICS} == {
        "accuracy": "maximize",
        "balanced_accuracy": "maximize",
        "f1_macro": "maximize",
        "roc_auc": "maximize",
        "log_loss": "minimize",
        "r2": "maximize",
        "rmse": "minimize",
        "mae": "minimize",
        "n_params": "minimize",
        "latency_ms": "minimize",
    }
    assert TASK_METRICS["regression"] == ("r2", "rmse", "mae", "n_params", "latency_ms")


def test_metric_values():
    assert score("accuracy", [0, 1, 1, 1], [0, 1, 0, 1]) == 0.75
    assert score("rmse", [0.0, 0.0], [3.0, 4.0]) == pytest.approx(12.5**0.5)
    assert score("mae", [0.0, 0.0], [3.0, 4.0]) == 3.5

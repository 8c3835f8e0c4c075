import copy

import pytest

from workers.hpo.config import ConfigError, validate_hpo_config


def errors_of(config, task="classification"):
    with pytest.raises(ConfigError) as info:
        validate_hpo_config(config, task)
    return info.value.errors


def rf_space(**spec):
    return {"model": "random_forest", "search_space": {"n_estimators": spec}}


def test_defaults_filled():
    cfg = validate_hpo_config({}, "classification")
    assert cfg["metric"] == "accuracy" and cfg["direction"] == "maximize"
    assert cfg["model"] == "auto"
    model = cfg["search_space"]["model"]
    assert model["choices"] == ["logistic_regression", "random_forest", "mlp"]
    assert "C" in model["conditional"]["logistic_regression"]
    assert cfg["sampler"] == {"name": "tpe", "seed": None, "multivariate": False}
    assert cfg["pruner"] == {"name": "none"}
    assert cfg["n_trials"] == 20 and cfg["timeout_s"] is None and cfg["seed"] == 0
    assert cfg["validation"] == {"method": "holdout", "test_size": 0.25}


def test_regression_defaults_and_direction():
    cfg = validate_hpo_config({"metric": "rmse", "model": "ridge"}, "regression")
    assert cfg["direction"] == "minimize"
    assert cfg["search_space"]["alpha"]["log"] is True


def test_normalized_config_validates_again_unchanged():
    cfg = validate_hpo_config({"sampler": "random", "pruner": "median"}, "classification")
    assert validate_hpo_config(copy.deepcopy(cfg), "classification") == cfg


def test_auto_user_space_fills_missing_family_subspaces():
    space = {"model": {"type": "categorical", "choices": ["random_forest", "mlp"],
                       "conditional": {"mlp": {"epochs": {"type": "fixed", "value": 2}}}}}
    cfg = validate_hpo_config({"search_space": space}, "classification")
    cond = cfg["search_space"]["model"]["conditional"]
    assert cond["mlp"] == {"epochs": {"type": "fixed", "value": 2}}
    assert "n_estimators" in cond["random_forest"]


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ([], ""),
        ({"bogus": 1}, "bogus"),
        ({"task": "regression"}, "task"),
        ({"metric": "r2"}, "metric"),
        ({"direction": "minimize"}, "direction"),
        ({"model": "ridge"}, "model"),
        (rf_space(type="int", low=50, high=10), "search_space.n_estimators.low"),
        (rf_space(type="int", low=0, high=10, log=True), "search_space.n_estimators.low"),
        (rf_space(type="int", low=1, high=10, log=True, step=2), "search_space.n_estimators.step"),
        (rf_space(type="int", low="a", high=10), "search_space.n_estimators.low"),
        (rf_space(type="int", low=1.5, high=10), "search_space.n_estimators.low"),
        (rf_space(type="int", low=True, high=10), "search_space.n_estimators.low"),
        (rf_space(type="int", high=10), "search_space.n_estimators.low"),
        (rf_space(type="int", low=1, high=10, log="yes"), "search_space.n_estimators.log"),
        (rf_space(type="categorical", choices=[]), "search_space.n_estimators.choices"),
        (rf_space(type="categorical", choices=[[1]]), "search_space.n_estimators.choices"),
        (rf_space(type="categorical", choices=[1], conditional={"2": {}}),
         "search_space.n_estimators.conditional.2"),
        (rf_space(type="fixed", value={"a": 1}), "search_space.n_estimators.value"),
        (rf_space(type="normal"), "search_space.n_estimators.type"),
        (rf_space(type="fixed", value=1, extra=0), "search_space.n_estimators.extra"),
        ({"model": "random_forest", "search_space": {"C": {"type": "fixed", "value": 1}}},
         "search_space.C"),
        ({"search_space": {"model": {"type": "fixed", "value": "mlp"}}},
         "search_space.model.type"),
        ({"search_space": {"model": {"type": "categorical", "choices": ["ridge"]}}},
         "search_space.model.choices"),
        ({"search_space": {"C": {"type": "fixed", "value": 1}}}, "search_space.C"),
        ({"sampler": "grid"}, "sampler.name"),
        ({"sampler": {"name": "tpe", "seed": True}}, "sampler.seed"),
        ({"sampler": {"name": "random", "multivariate": True}}, "sampler.multivariate"),
        ({"pruner": "hyperband"}, "pruner.name"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": True}, "n_trials"),
        ({"n_trials": 10001}, "n_trials"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"validation": {"method": "holdout", "test_size": 0.9}}, "validation.test_size"),
        ({"validation": {"method": "cv", "folds": 1}}, "validation.folds"),
        ({"validation": {"method": "cv", "test_size": 0.2}}, "validation.test_size"),
        ({"validation": {"method": "bootstrap"}}, "validation.method"),
        ({"seed": False}, "seed"),
        ({"seed": -1}, "seed"),
    ],
)
def test_error_paths(config, path):
    assert path in errors_of(config)


def test_unknown_family_param_lists_allowed_names():
    errors = errors_of({"model": "ridge", "search_space": {"C": {"type": "fixed", "value": 1}}},
                       "regression")
    assert "alpha" in errors["search_space.C"]


def test_nesting_deeper_than_three_levels():
    def cat(sub):
        return {"type": "categorical", "choices": ["relu"], "conditional": {"relu": sub}}

    three = {"activation": cat({"activation": cat({"dropout": {"type": "fixed", "value": 0}})})}
    validate_hpo_config({"model": "mlp", "search_space": three}, "classification")
    four = {"activation": cat({"activation": cat({"activation": cat({})})})}
    errors = errors_of({"model": "mlp", "search_space": four})
    assert list(errors) == [
        "search_space.activation.conditional.relu.activation.conditional.relu.activation"
        ".conditional.relu"
    ]


def test_collects_all_errors_and_str_joins_them():
    with pytest.raises(ConfigError) as info:
        validate_hpo_config({"n_trials": 0, "seed": "x", "pruner": "no"}, "classification")
    assert set(info.value.errors) == {"n_trials", "seed", "pruner.name"}
    assert "n_trials:" in str(info.value) and "seed:" in str(info.value)

import copy

import pytest

from workers.hpo.config import ConfigError
from workers.hpo.config import validate_hpo_config as typed_hpo_config


def validate_hpo_config(config, task):
    """The checked config as a job stores it (its JSON)."""
    return typed_hpo_config(config, task).to_json()


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
    assert model["choices"] == [
        "logistic_regression",
        "random_forest",
        "hist_gradient_boosting",
        "lightgbm",
        "xgboost",
        "svm",
        "knn",
        "mlp",
    ]  # no cnn
    assert "C" in model["conditional"]["logistic_regression"]
    assert cfg["sampler"] == {
        "name": "tpe",
        "seed": None,
        "multivariate": False,
        "n_startup_trials": 10,
    }
    assert cfg["pruner"] == {"name": "none"}
    assert cfg["n_trials"] == 20 and cfg["timeout_s"] is None and cfg["seed"] == 0
    assert cfg["trial_timeout_s"] is None and cfg["patience"] is None
    assert cfg["validation"] == {"method": "holdout", "test_size": 0.25}
    assert cfg["test_size"] == 0.2 and cfg["warm_start"] is None


def test_regression_defaults_and_direction():
    cfg = validate_hpo_config({"metric": "rmse", "model": "ridge"}, "regression")
    assert cfg["direction"] == "minimize"
    assert cfg["search_space"]["alpha"]["log"] is True


def test_normalized_config_validates_again_unchanged():
    cfg = validate_hpo_config({"sampler": "random", "pruner": "median"}, "classification")
    assert validate_hpo_config(copy.deepcopy(cfg), "classification") == cfg


def test_auto_user_space_fills_missing_family_subspaces():
    space = {
        "model": {
            "type": "categorical",
            "choices": ["random_forest", "mlp"],
            "conditional": {"mlp": {"epochs": {"type": "fixed", "value": 2}}},
        }
    }
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
        (
            rf_space(type="categorical", choices=[1], conditional={"2": {}}),
            "search_space.n_estimators.conditional.2",
        ),
        (rf_space(type="fixed", value={"a": 1}), "search_space.n_estimators.value"),
        (rf_space(type="normal"), "search_space.n_estimators.type"),
        (rf_space(type="fixed", value=1, extra=0), "search_space.n_estimators.extra"),
        (
            {"model": "random_forest", "search_space": {"C": {"type": "fixed", "value": 1}}},
            "search_space.C",
        ),
        (
            {"search_space": {"model": {"type": "fixed", "value": "mlp"}}},
            "search_space.model.type",
        ),
        (
            {"search_space": {"model": {"type": "categorical", "choices": ["ridge"]}}},
            "search_space.model.choices",
        ),
        ({"search_space": {"C": {"type": "fixed", "value": 1}}}, "search_space.C"),
        ({"sampler": "annealing"}, "sampler.name"),
        ({"sampler": {"name": "tpe", "bogus": 1}}, "sampler.bogus"),
        ({"sampler": {"name": "random", "n_startup_trials": 3}}, "sampler.n_startup_trials"),
        ({"sampler": {"name": "qmc", "qmc_type": "lattice"}}, "sampler.qmc_type"),
        ({"sampler": {"name": "nsga2", "population_size": 1}}, "sampler.population_size"),
        ({"sampler": "grid"}, "search_space.model.conditional.logistic_regression.C.step"),
        (
            {
                "sampler": "grid",
                "model": "knn",
                "search_space": {"n_neighbors": {"type": "int", "low": 1, "high": 200_000}},
            },
            "search_space.n_neighbors",
        ),
        (
            {
                "sampler": "grid",
                "model": "knn",
                "search_space": {
                    "n_neighbors": {"type": "int", "low": 1, "high": 1000},
                    "p": {"type": "int", "low": 1, "high": 101},
                },
            },
            "search_space",
        ),
        ({"metric": ["accuracy", "n_params"], "sampler": "cmaes"}, "sampler.name"),
        ({"metric": ["accuracy", "n_params"], "pruner": "median"}, "pruner.name"),
        ({"metric": ["accuracy", "n_params"], "patience": 3}, "patience"),
        ({"metric": ["accuracy", "accuracy"]}, "metric"),
        ({"metric": ["n_params", "latency_ms"]}, "metric"),
        ({"metric": "n_params"}, "metric"),
        ({"metric": []}, "metric"),
        ({"metric": ["accuracy", "n_params"], "direction": "maximize"}, "direction"),
        ({"trial_timeout_s": -1}, "trial_timeout_s"),
        ({"patience": 0}, "patience"),
        ({"test_size": 0.7}, "test_size"),
        ({"warm_start": []}, "warm_start"),
        (
            {"warm_start": {"trials": [{"params": {}, "values": [1, 2]}]}},
            "warm_start.trials.0.values",
        ),
        (
            {"warm_start": {"trials": [{"params": {"a": [1]}, "values": None}]}},
            "warm_start.trials.0.params",
        ),
        ({"warm_start": {"trials": [{"params": {}, "extra": 1}]}}, "warm_start.trials.0.extra"),
        ({"sampler": {"name": "tpe", "seed": True}}, "sampler.seed"),
        ({"sampler": {"name": "random", "multivariate": True}}, "sampler.multivariate"),
        ({"pruner": "threshold"}, "pruner.name"),
        ({"pruner": {"name": {"nested": 1}}}, "pruner.name"),
        ({"sampler": {"name": ["tpe"]}}, "sampler.name"),
        ({"pruner": {"name": "percentile", "percentile": 120}}, "pruner.percentile"),
        ({"pruner": {"name": "median", "percentile": 20}}, "pruner.percentile"),
        (
            {"pruner": {"name": "successive_halving", "reduction_factor": 1}},
            "pruner.reduction_factor",
        ),
        ({"pruner": {"name": "hyperband", "max_resource": "all"}}, "pruner.max_resource"),
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
    errors = errors_of(
        {"model": "ridge", "search_space": {"C": {"type": "fixed", "value": 1}}}, "regression"
    )
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


def test_multi_objective_metric_and_directions():
    cfg = validate_hpo_config(
        {"metric": ["accuracy", "latency_ms"], "sampler": "nsga2"}, "classification"
    )
    assert cfg["direction"] == ["maximize", "minimize"]
    assert cfg["sampler"]["population_size"] == 20
    assert validate_hpo_config(copy.deepcopy(cfg), "classification") == cfg


def test_grid_with_a_finite_space_and_every_option_default():
    space = {
        "n_neighbors": {"type": "int", "low": 1, "high": 9, "step": 2},
        "weights": {"type": "categorical", "choices": ["uniform", "distance"]},
    }
    cfg = validate_hpo_config(
        {"sampler": {"name": "grid", "seed": 1}, "model": "knn", "search_space": space},
        "classification",
    )
    assert cfg["sampler"] == {"name": "grid", "seed": 1}
    hb = validate_hpo_config({"pruner": "hyperband"}, "classification")["pruner"]
    assert hb == {
        "name": "hyperband",
        "min_resource": 1,
        "max_resource": "auto",
        "reduction_factor": 3,
    }


def test_warm_start_is_kept():
    warm = {
        "from_job": 4,
        "trials": [
            {"params": {"model": "knn"}, "values": [0.9]},
            {"params": {"model": "svm"}, "values": None},
        ],
    }
    cfg = validate_hpo_config({"warm_start": warm}, "classification")
    assert cfg["warm_start"] == warm


def test_trainer_options_are_filled_in_and_checked():
    config = validate_hpo_config({"model": "mlp"}, "classification")
    assert config["trainer"] == {
        "device": "auto",
        "amp": False,
        "accumulation_steps": 1,
        "clip_norm": None,
        "processes": 1,
        "stages": 1,
    }
    config = validate_hpo_config(
        {"model": "mlp", "trainer": {"processes": 2, "amp": True}}, "classification"
    )
    assert (config["trainer"]["processes"], config["trainer"]["amp"]) == (2, True)
    with pytest.raises(ConfigError) as exc:
        validate_hpo_config({"trainer": {"amp": "yes", "gpus": 2}}, "classification")
    assert set(exc.value.errors) == {"trainer.amp", "trainer.gpus"}
    with pytest.raises(ConfigError) as exc:
        validate_hpo_config({"trainer": [1]}, "classification")
    assert exc.value.errors == {"trainer": "must be an object"}


def stage_errors(config: dict) -> dict:
    try:
        validate_hpo_config(config, "classification")
    except ConfigError as exc:
        return exc.errors
    return {}


def test_model_parallel_stages_fit_the_smallest_network_of_a_torch_family():
    deep = {"hidden_layers": {"type": "int", "low": 3, "high": 5}}
    assert stage_errors({"model": "mlp", "search_space": deep, "trainer": {"stages": 4}}) == {}
    # The default MLP space goes down to one hidden layer: two blocks with the head.
    assert stage_errors({"model": "mlp", "trainer": {"stages": 3}}) == {
        "trainer.stages": "3 stages need networks of at least 3 blocks; the mlp search "
        "space gives some of 2 (hidden_layers layers and the head)"
    }
    # model auto: the torch families among the choices are checked, the others ignored.
    assert stage_errors({"trainer": {"stages": 2}}) == {}
    assert (
        "random_forest searches none"
        in stage_errors({"model": "random_forest", "trainer": {"stages": 2}})["trainer.stages"]
    )
    assert (
        "from 1 to 8" in stage_errors({"model": "mlp", "trainer": {"stages": 9}})["trainer.stages"]
    )
    assert (
        "either data parallel"
        in stage_errors({"model": "mlp", "trainer": {"stages": 2, "processes": 2}})[
            "trainer.stages"
        ]
    )


def test_nas_stages_fit_the_smallest_network_of_the_space():
    from workers.nas.config import validate_nas_config

    assert validate_nas_config({"trainer": {"stages": 2}}, "tabular").trainer.stages == 2
    with pytest.raises(ConfigError) as exc:
        validate_nas_config({"trainer": {"stages": 3}}, "tabular")
    assert exc.value.errors == {
        "trainer.stages": "3 stages need networks of at least 3 blocks; the mlp space "
        "builds some of 2 (min_layers layers and the head)"
    }
    cells = {"space": {"name": "cell", "cells": 2}, "trainer": {"stages": 4}}
    assert validate_nas_config(cells, "image").trainer.stages == 4


@pytest.mark.parametrize(
    "model,name,spec,field,bound",
    [
        ("mlp", "epochs", {"type": "fixed", "value": 10**9}, "value", 1000),
        ("mlp", "hidden_units", {"type": "int", "low": 16, "high": 16384}, "high", 2048),
        ("mlp", "hidden_layers", {"type": "int", "low": 1, "high": 30}, "high", 16),
        ("mlp", "batch_size", {"type": "categorical", "choices": [32, 10**6]}, "choices", 8192),
        (
            "random_forest",
            "n_estimators",
            {"type": "int", "low": 10, "high": 10**30},
            "high",
            2000,
        ),
        ("hist_gradient_boosting", "max_iter", {"type": "fixed", "value": 10**5}, "value", 2000),
        ("knn", "n_neighbors", {"type": "float", "low": 1, "high": 1e308}, "high", 1000),
    ],
)
def test_every_size_a_search_space_sets_has_an_upper_bound(model, name, spec, field, bound):
    errors = errors_of({"model": model, "search_space": {name: spec}})
    message = errors[f"search_space.{name}.{field}"]
    assert f"at most {bound}" in message and name in message
    at_bound = {"type": "fixed", "value": bound}
    validate_hpo_config({"model": model, "search_space": {name: at_bound}}, "classification")


def test_bounds_apply_inside_model_auto_sub_spaces():
    space = {"hidden_units": {"type": "fixed", "value": 4096}}
    auto = {"type": "categorical", "choices": ["mlp"], "conditional": {"mlp": space}}
    errors = errors_of({"search_space": {"model": auto}})
    assert "at most 2048" in errors["search_space.model.conditional.mlp.hidden_units.value"]


@pytest.mark.parametrize(
    "config,field,bound",
    [
        ({"timeout_s": 10**9}, "timeout_s", "604800"),
        ({"trial_timeout_s": 604801}, "trial_timeout_s", "604800"),
        ({"n_trials": 10001}, "n_trials", "10000"),
        ({"patience": 10**6}, "patience", "10000"),
        ({"trainer": {"processes": 64}}, "trainer.processes", "8"),
        ({"trainer": {"accumulation_steps": 65}}, "trainer.accumulation_steps", "64"),
        (
            {
                "model": "svm",
                "search_space": {"kernel": {"type": "categorical", "choices": [*range(1001)]}},
            },
            "search_space.kernel.choices",
            "1000",
        ),
    ],
)
def test_job_sizes_have_upper_bounds(config, field, bound):
    assert bound in errors_of(config)[field]

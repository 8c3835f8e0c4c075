"""Hypothesis properties of the config and search-space validators: any JSON a client can
send is either accepted or refused with the validator's own ConfigError (never a
TypeError, KeyError, ...), and an accepted config is a fixed point: validating it again
gives it back unchanged, also after a JSON round trip (it is stored as JSON)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.compression.config import validate_compression_config
from workers.config import to_json
from workers.hpo.config import ConfigError, normalize_space, validate_hpo_config
from workers.hpo.space import grid_values
from workers.nas.config import validate_nas_config

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def objects_with(keys: dict) -> st.SearchStrategy:
    """JSON objects with some of `keys` (each a good value or any JSON) and stray keys."""
    return st.fixed_dictionaries(
        {}, optional={key: good | json_values for key, good in keys.items()}
    ) | st.dictionaries(st.sampled_from([*keys, "stray"]), json_values, max_size=5)


numbers = st.integers(-5, 300) | st.floats(-5, 300, allow_nan=False)
param_specs = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("int"), "low": st.integers(-5, 50), "high": st.integers(-5, 300)},
        optional={"log": st.booleans(), "step": st.integers(-1, 5)},
    ),
    st.fixed_dictionaries(
        {"type": st.just("float"), "low": numbers, "high": numbers},
        optional={"log": st.booleans(), "step": st.none() | numbers},
    ),
    st.fixed_dictionaries(
        {"type": st.just("categorical"), "choices": st.lists(scalars, max_size=4)}
    ),
    st.fixed_dictionaries({"type": st.just("fixed"), "value": scalars}),
    json_values,
)
spaces = st.dictionaries(
    st.sampled_from(["n_estimators", "max_depth", "C", "lr", "epochs", "hidden_units", "x"]),
    param_specs,
    max_size=3,
)
hpo_configs = objects_with(
    {
        "model": st.sampled_from(["random_forest", "logistic_regression", "mlp", "knn", "auto"]),
        "metric": st.sampled_from(["accuracy", "f1_macro", "rmse", "roc_auc"])
        | st.lists(st.sampled_from(["accuracy", "f1_macro", "log_loss"]), max_size=3),
        "n_trials": st.integers(-1, 1000),
        "search_space": spaces,
        "sampler": st.fixed_dictionaries(
            {"name": st.sampled_from(["tpe", "random", "grid", "cmaes", "nsga2", "bogus"])},
            optional={"seed": scalars},
        ),
        "pruner": st.fixed_dictionaries(
            {"name": st.sampled_from(["none", "median", "asha", "hyperband", "bogus"])}
        ),
        "timeout_s": st.none() | numbers,
        "validation": st.fixed_dictionaries(
            {"method": st.sampled_from(["holdout", "kfold"])},
            optional={"folds": st.integers(-1, 20)},
        ),
        "warm_start": json_values,
    }
)


def fixed_point(validate, config):
    """Validate; if accepted, its JSON (what a job stores) must validate to itself."""
    try:
        out = to_json(validate(config))
    except ConfigError as exc:
        assert exc.errors and all(isinstance(m, str) for m in exc.errors.values())
        return None
    stored = json.loads(json.dumps(out))
    assert to_json(validate(stored)) == stored == out
    return out


@SETTINGS
@given(hpo_configs, st.sampled_from(["classification", "regression"]))
def test_hpo_configs_are_accepted_as_a_fixed_point_or_refused_by_name(config, task):
    fixed_point(lambda c: validate_hpo_config(c, task), config)


@SETTINGS
@given(json_values)
def test_any_json_is_an_hpo_config_or_a_config_error(config):
    fixed_point(lambda c: validate_hpo_config(c, "classification"), config)


@SETTINGS
@given(spaces | json_values)
def test_search_spaces_normalise_to_a_fixed_point_and_grid_without_crashing(raw):
    space = fixed_point(lambda s: normalize_space(s, "search_space"), raw)
    if space is not None:
        values, problems = grid_values(space)
        assert all(isinstance(v, list) for v in values.values())


nas_configs = objects_with(
    {
        "strategy": st.sampled_from(["darts", "evolution", "rl", "random", "bogus"])
        | st.fixed_dictionaries({"name": st.sampled_from(["darts", "evolution", "random"])}),
        "space": st.sampled_from(["mlp", "cell", "bogus"]),
        "budget": json_values,
        "epochs": st.integers(-1, 50),
        "retrain": json_values,
    }
)


@SETTINGS
@given(nas_configs | json_values, st.sampled_from(["tabular", "image"]))
def test_nas_configs_are_a_fixed_point_or_a_config_error(config, kind):
    fixed_point(lambda c: validate_nas_config(c, kind, n_features=4), config)


TECHNIQUES = ["prune_structured", "prune_magnitude", "dynamic_int8", "half", "bogus"]
fractions = st.floats(-0.1, 1.1, allow_nan=False)
compression_steps = st.lists(
    st.sampled_from(TECHNIQUES)
    | objects_with({"technique": st.sampled_from(TECHNIQUES), "ratio": fractions}),
    min_size=1,
    max_size=3,
)
compression_configs = st.fixed_dictionaries(
    {"model_version": st.integers(1, 10), "steps": compression_steps},
    optional={"test_size": fractions, "seed": st.integers(-1, 5)},
) | objects_with({"model_version": st.integers(-1, 10), "steps": compression_steps})


@SETTINGS
@given(compression_configs | json_values)
def test_compression_configs_are_a_fixed_point_or_a_config_error(config):
    fixed_point(validate_compression_config, config)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=objects_with(
        {
            "kind": st.sampled_from(["hpo", "nas", "compression", "x"]),
            "name": st.text(max_size=20),
            "dataset": st.integers(-1, 10),
            "config": hpo_configs | nas_configs,
            "resources": json_values,
        }
    )
    | json_values
)
def test_the_job_serializer_answers_any_json_with_errors_by_field(body, alice):
    from rest_framework.test import APIRequestFactory

    from automl.jobs.serializers import JobSubmitSerializer

    request = APIRequestFactory().post("/api/v1/jobs/")
    request.user = alice
    serializer = JobSubmitSerializer(data=body, context={"request": request})
    if not serializer.is_valid():
        assert serializer.errors

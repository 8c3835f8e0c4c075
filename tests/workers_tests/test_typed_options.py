"""Every registered algorithm (sampler, pruner, NAS strategy and space, compression technique)
declares its options as a frozen dataclass: the defaults live in its fields, the engines read
attributes, and the JSON a job stores and the API returns is what it always was."""

import dataclasses
import json

import pytest

from workers.compression.config import STEP_OPTIONS, validate_compression_config
from workers.config import ConfigError
from workers.hpo.config import validate_hpo_config
from workers.hpo.pruners import PRUNERS
from workers.hpo.samplers import SAMPLERS
from workers.nas.config import validate_nas_config
from workers.nas.spaces import SPACES
from workers.nas.strategies import STRATEGIES

OPTIONS = {
    **{f"sampler:{n}": s.options for n, s in SAMPLERS.items()},
    **{f"pruner:{n}": p.options for n, p in PRUNERS.items()},
    **{f"strategy:{n}": s.options for n, s in STRATEGIES.items()},
    **{f"space:{n}": s.options for n, s in SPACES.items()},
    **{f"technique:{n}": options for n, options in STEP_OPTIONS.items()},
}


@pytest.mark.parametrize("entry", OPTIONS)
def test_options_are_a_frozen_dataclass_holding_each_default(entry):
    options = OPTIONS[entry]
    made = options()
    assert dataclasses.is_dataclass(options) and options.__dataclass_params__.frozen
    assert made.to_json() == {name: o.default for name, o in options.declared().items()}
    problems = {}
    assert options.parse({}, "x", problems.__setitem__) == made and not problems
    for spec in dataclasses.fields(made):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, spec.name, None)


@pytest.mark.parametrize("entry", OPTIONS)
def test_an_unknown_option_is_named_with_the_allowed_ones(entry):
    options, problems = OPTIONS[entry], {}
    options.parse({"nope": 1}, "x", problems.__setitem__)
    allowed = ", ".join(options.declared()) or "none"
    assert problems == {"x.nope": f"unknown option; allowed: {allowed}"}


def test_a_list_default_is_never_shared_between_instances():
    first, second = SPACES["mlp"].options(), SPACES["mlp"].options()
    assert first.widths == second.widths and first.widths is not second.widths


def stored(typed) -> dict:
    """What the Job row holds and the API returns (a JSON round trip)."""
    return json.loads(json.dumps(typed.to_json()))


def test_hpo_sampler_and_pruner_json_is_flat_in_declared_order():
    config = validate_hpo_config(
        {"sampler": {"name": "nsga2", "population_size": 30}, "pruner": "hyperband"},
        "classification",
    )
    out = stored(config)
    assert list(out["sampler"].items()) == [
        ("name", "nsga2"),
        ("seed", None),
        ("population_size", 30),
        ("crossover_prob", 0.9),
        ("mutation_prob", None),
    ]
    assert out["pruner"] == {
        "name": "hyperband",
        "min_resource": 1,
        "max_resource": "auto",
        "reduction_factor": 3,
    }
    assert config.sampler.options.population_size == 30
    assert type(config).from_json(out) == config


def test_nas_strategy_and_space_json_is_flat_in_declared_order():
    config = validate_nas_config({}, "tabular")
    out = stored(config)
    assert out["strategy"] == {
        "name": "evolution",
        "population": 10,
        "sample_size": 3,
        "cycles": 20,
    }
    assert list(out["space"]) == ["name", "widths", "activations", "min_layers", "max_layers"]
    assert out["space"]["activations"] == ["relu", "tanh", "gelu"]
    assert config.strategy.options.population == 10
    assert type(config).from_json(out) == config


@pytest.mark.parametrize(
    "config,errors",
    [
        (
            {"strategy": {"name": "evolution", "population": 2, "sample_size": 5, "nope": 1}},
            {
                "strategy.nope": "unknown option; allowed: population, sample_size, cycles",
                "strategy.sample_size": "must not exceed population",
            },
        ),
        (
            {"strategy": "darts", "space": {"name": "cell", "ops": ["none", "skip_connect"]}},
            {"space.ops": "needs at least two operations besides 'none'"},
        ),
        (
            {"strategy": "random", "space": {"name": "macro", "min_layers": 5, "max_layers": 2}},
            {"space.min_layers": "must not exceed max_layers"},
        ),
    ],
)
def test_checks_across_options_still_read_the_same(config, errors):
    with pytest.raises(ConfigError) as info:
        validate_nas_config(config, "image")
    assert info.value.errors == errors


def test_compression_steps_json_is_flat_in_declared_order():
    steps = ["half", {"technique": "prune_magnitude", "sparsity": 0.3}, "dynamic_int8"]
    steps.append({"technique": "distill", "teachers": [2]})
    config = validate_compression_config({"model_version": 1, "steps": steps})
    out = stored(config)["steps"]
    assert out[:3] == [
        {"technique": "half", "dtype": "float16"},
        {
            "technique": "prune_magnitude",
            "sparsity": 0.3,
            "scope": "global",
            "sensitivity": False,
            "steps": 1,
            "schedule": "linear",
            "finetune_epochs": 1,
        },
        {"technique": "dynamic_int8"},
    ]
    assert list(out[1])[1:] == list(STEP_OPTIONS["prune_magnitude"].declared())
    assert out[3]["student"] == {"shrink": 0.5} and out[3]["teachers"] == [2]
    assert config.teacher_ids == [2]
    assert type(config).from_json(stored(config)) == config

"""The checks every job config validator shares (workers/config.py) read the same in each."""

import json

import pytest

from workers.compression.config import validate_compression_config
from workers.config import ConfigError
from workers.hpo.config import validate_hpo_config
from workers.nas.config import validate_nas_config

VALIDATORS = {
    "hpo": lambda c: validate_hpo_config(c, "classification"),
    "nas": lambda c: validate_nas_config(c, "tabular"),
    "compression": lambda c: validate_compression_config(
        {"model_version": 1, "steps": ["half"], **c}
    ),
}


def errors_of(kind: str, config: dict) -> dict:
    with pytest.raises(ConfigError) as info:
        VALIDATORS[kind](config)
    return info.value.errors


@pytest.mark.parametrize("kind", VALIDATORS)
@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "0"])
def test_a_bad_seed_reads_the_same_everywhere(kind, seed):
    assert errors_of(kind, {"seed": seed}) == {"seed": "must be an integer from 0 to 2**32 - 1"}


@pytest.mark.parametrize("kind", VALIDATORS)
def test_a_held_out_share_is_from_five_to_fifty_percent(kind):
    assert errors_of(kind, {"test_size": 0.9}) == {
        "test_size": "must be a number from 0.05 to 0.5"
    }
    VALIDATORS[kind]({"test_size": 0.05, "seed": 2**32 - 1})


@pytest.mark.parametrize("kind", ["hpo", "nas"])
@pytest.mark.parametrize(
    "value,message",
    [
        (0, "must be a number of seconds > 0, or null"),
        (10**9, "must be at most 604800 seconds (7 days), or null"),
    ],
)
def test_a_time_limit_is_positive_and_at_most_a_week(kind, value, message):
    assert errors_of(kind, {"timeout_s": value}) == {"timeout_s": message}


@pytest.mark.parametrize("kind,key", [("hpo", "sampler"), ("nas", "strategy")])
def test_a_registry_entry_is_a_name_or_an_object_with_one(kind, key):
    assert list(errors_of(kind, {key: 3})) == [key]
    assert list(errors_of(kind, {key: {"name": "nope"}})) == [f"{key}.name"]


def test_trainer_options_are_checked_once_for_hpo_and_nas():
    for kind in ("hpo", "nas"):
        assert errors_of(kind, {"trainer": {"accumulation_steps": 0}}) == {
            "trainer.accumulation_steps": "must be an integer from 1 to 64"
        }
    assert VALIDATORS["nas"]({}).to_json()["trainer"] == {
        "amp": False,
        "accumulation_steps": 1,
        "clip_norm": None,
        "stages": 1,
    }


@pytest.mark.parametrize("kind", VALIDATORS)
def test_a_stored_config_is_rebuilt_with_every_check_run_again(kind):
    typed = VALIDATORS[kind]({"seed": 7})
    stored = json.loads(json.dumps(typed.to_json()))
    assert type(typed).from_json(stored) == typed
    assert type(typed).from_json(stored).to_json() == stored
    with pytest.raises(ConfigError) as info:
        type(typed).from_json({**stored, "seed": -1, "parallelism": 99})
    assert set(info.value.errors) == {"seed", "parallelism"}


def test_defaults_live_in_the_dataclass_fields():
    hpo, nas = VALIDATORS["hpo"]({}), VALIDATORS["nas"]({})
    compression = VALIDATORS["compression"]({})
    assert (hpo.n_trials, hpo.test_size, hpo.sampler.name, hpo.validation.test_size) == (
        20,
        0.2,
        "tpe",
        0.25,
    )
    assert (nas.proxy.epochs, nas.training.lr, nas.retrain.epochs) == (2, 0.01, 10)
    assert (compression.finetune.lr, compression.report.repeats, compression.tolerance) == (
        0.001,
        10,
        0.02,
    )

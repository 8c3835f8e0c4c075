"""Pipeline configs (workers/pipeline/config.py) and the gate's judging (gate.py): no
database, no Django."""

import numpy as np
import pytest

from workers.config import ConfigError
from workers.pipeline.config import validate_pipeline_config
from workers.pipeline.gate import Facts, batch_latency_ms, judge_all

SEARCH = {"type": "search", "kind": "hpo", "config": {"model": "mlp"}}
GATE = {
    "type": "gate",
    "conditions": [
        {"check": "metric", "metric": "accuracy", "min": 0.9},
        {"check": "size", "max_bytes": 1000},
        {"check": "latency", "batch_size": 8, "max_ms": 5},
    ],
}


def errors(config) -> dict:
    with pytest.raises(ConfigError) as caught:
        validate_pipeline_config(config)
    return caught.value.errors


def test_it_fills_in_defaults_and_round_trips():
    config = validate_pipeline_config(
        {
            "stages": [
                SEARCH,
                {"type": "compression", "config": {"steps": ["dynamic_int8"]}},
                GATE,
                {"type": "register", "name": "iris", "alias": "challenger"},
                {"type": "deploy", "deployment": "live", "share": 0.1},
            ]
        }
    )
    assert config.search.options.kind == "hpo" and config.model_name == "iris"
    assert config.stages[3].options.to_json() == {
        "name": "iris",
        "stage": None,
        "alias": "challenger",
    }
    assert config.stages[4].options.follows is None
    assert validate_pipeline_config(config.to_json()) == config


@pytest.mark.parametrize(
    "config, path",
    [
        ({"stages": []}, "stages"),
        ({"stages": [{"type": "train"}], "model_version": 1}, "stages.0.type"),
        (
            {"stages": [{"type": "gate", "conditions": []}], "model_version": 1},
            "stages.0.conditions",
        ),
        (
            {
                "stages": [{"type": "gate", "conditions": [{"check": "metric"}]}],
                "model_version": 1,
            },
            "stages.0.conditions.0",
        ),
        (
            {"stages": [{"type": "gate", "conditions": [{"check": "size"}]}], "model_version": 1},
            "stages.0.conditions.0.max_bytes",
        ),
        ({"stages": [{"type": "register"}], "model_version": 1}, "stages.0"),
        (
            {"stages": [{"type": "register", "alias": "Champ"}], "model_version": 1},
            "stages.0.alias",
        ),
        (
            {"stages": [{"type": "deploy", "deployment": "x", "share": 0}], "model_version": 1},
            "stages.0.share",
        ),
        ({"stages": [{"type": "deploy"}], "model_version": 1}, "stages.0.deployment"),
        ({"stages": [{"type": "deploy", "deployment": "x"}]}, "model_version"),
        ({"stages": [SEARCH], "model_version": 3}, "model_version"),
        ({"stages": [SEARCH, SEARCH]}, "stages.1.type"),
        (
            {"stages": [SEARCH, {"type": "compression", "config": {"model_version": 2}}]},
            "stages.1.config.model_version",
        ),
        (
            {"stages": [SEARCH, {"type": "gate", "conditions": [{"check": "drop"}]}]},
            "stages.1.conditions",
        ),
        ({"stages": [SEARCH], "parallelism": 2}, "parallelism"),
        ({"stages": [SEARCH], "extra": 1}, "extra"),
        ("stages", ""),
    ],
)
def test_a_bad_config_names_the_field(config, path):
    assert path in errors(config)


FACTS = Facts(
    metrics={"accuracy": 0.93},
    parent_metrics={"accuracy": 0.96},
    size_bytes=1200,
    latency_ms={8: 2.5},
)


def test_the_gate_says_what_passed_and_what_did_not_with_the_values():
    config = validate_pipeline_config(
        {
            "stages": [
                SEARCH,
                {"type": "compression", "config": {"steps": ["dynamic_int8"]}},
                {
                    **GATE,
                    "conditions": [
                        *GATE["conditions"],
                        {"check": "drop", "metric": "accuracy", "max": 0.02},
                        {"check": "metric", "metric": "f1", "min": 0.5},
                    ],
                },
            ]
        }
    )
    checks = judge_all(config.stages[2].conditions, FACTS)
    assert [c["passed"] for c in checks] == [True, False, True, False, False]
    assert checks[1] == {
        "condition": "size <= 1000 bytes",
        "value": 1200,
        "passed": False,
        "why": "",
    }
    assert checks[3]["value"] == pytest.approx(0.03)
    assert checks[4]["value"] is None and "has: accuracy" in checks[4]["why"]


def test_latency_is_timed_on_a_full_batch():
    seen = []
    ms = batch_latency_ms(lambda X: seen.append(len(X)), np.zeros((3, 2)), 8, repeats=2)
    assert ms >= 0 and seen == [8, 8, 8]

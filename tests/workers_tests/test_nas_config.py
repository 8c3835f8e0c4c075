import subprocess
import sys
from pathlib import Path

import pytest

from workers.nas.config import ConfigError, data_kind_of
from workers.nas.config import validate_nas_config as typed_nas_config
from workers.nas.spaces import CellSpace, MacroSpace, MLPSpace

ROOT = Path(__file__).resolve().parents[2]


def validate_nas_config(config, kind, **kwargs):
    """The checked config as a job stores it (its JSON)."""
    return typed_nas_config(config, kind, **kwargs).to_json()


def errors(config, kind="image", **kwargs) -> dict:
    with pytest.raises(ConfigError) as info:
        validate_nas_config(config, kind, **kwargs)
    return info.value.errors


def test_defaults_follow_the_data_kind():
    image = validate_nas_config({}, "image")
    assert image["strategy"]["name"] == "darts" and image["space"]["name"] == "cell"
    assert image["strategy"]["order"] == 1 and image["strategy"]["skip_guard"] == "cap"
    table = validate_nas_config({}, "tabular")
    assert table["strategy"]["name"] == "evolution" and table["space"]["name"] == "mlp"
    assert validate_nas_config({"strategy": "rl"}, "image")["space"]["name"] == "macro"
    assert table["proxy"] == {"epochs": 2, "subset": 1.0}
    assert table["constraints"] == {"max_params": None, "max_latency_ms": None}


@pytest.mark.parametrize(
    "config, kind, field",
    [
        ({"strategy": "nope"}, "image", "strategy.name"),
        ({"strategy": {"name": "darts", "order": 3}}, "image", "strategy.order"),
        ({"strategy": {"name": "darts", "lr": 1}}, "image", "strategy.lr"),
        ({"strategy": "darts", "space": "macro"}, "image", "space.name"),
        ({"strategy": "darts"}, "tabular", "space.name"),
        ({"space": "macro"}, "tabular", "space.name"),
        (
            {"strategy": {"name": "evolution", "population": 3, "sample_size": 4}},
            "image",
            "strategy.sample_size",
        ),
        ({"space": {"name": "cell", "ops": ["none", "skip_connect"]}}, "image", "space.ops"),
        ({"space": {"name": "cell", "ops": ["conv_9x9"]}}, "image", "space.ops"),
        (
            {"space": {"name": "macro", "min_layers": 4, "max_layers": 2}, "strategy": "random"},
            "image",
            "space.min_layers",
        ),
        ({"space": {"name": "mlp", "widths": [0, 8]}}, "tabular", "space.widths"),
        ({"proxy": {"epochs": 0}}, "image", "proxy.epochs"),
        ({"proxy": {"subset": 2}}, "image", "proxy.subset"),
        ({"constraints": {"max_params": -1}}, "image", "constraints.max_params"),
        ({"constraints": {"max_latency_ms": "fast"}}, "image", "constraints.max_latency_ms"),
        ({"retrain": []}, "image", "retrain"),
        ({"test_size": 0.9}, "image", "test_size"),
        ({"seed": -1}, "image", "seed"),
        ({"timeout_s": 0}, "image", "timeout_s"),
        ({"image_shape": [1, 8]}, "image", "image_shape"),
        ({"surprise": 1}, "image", "surprise"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_configs_name_the_field(config, kind, field):
    assert field in errors(config, kind)


def test_not_an_object_and_not_classification():
    assert errors([], "image") == {"": "config must be a JSON object"}
    assert "classification" in errors({}, "tabular", task="regression")[""]


def test_image_shape_turns_a_table_into_images_when_the_sizes_match():
    config = validate_nas_config(
        {"image_shape": [1, 2, 2], "strategy": "random", "space": "macro"}, "tabular", n_features=4
    )
    assert config["data_kind"] == "image"
    assert "image_shape" in errors({"image_shape": [1, 3, 3]}, "tabular", n_features=4)


def test_bundled_digits_are_images():
    assert data_kind_of("digits") == "image"
    assert data_kind_of("iris") == "tabular"
    assert data_kind_of(None, "images") == "image"


def test_validation_does_not_load_torch():
    code = "import sys, workers.nas.config\nassert 'torch' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_engine_never_imports_django():
    code = (
        "import sys, workers.nas.engine\nassert 'django' not in sys.modules, 'django imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- spaces


@pytest.mark.parametrize(
    "space",
    [
        CellSpace(CellSpace.options(nodes=2, cells=3)),
        MacroSpace(MacroSpace.options(min_layers=1, max_layers=3)),
        MLPSpace(MLPSpace.options(min_layers=0, max_layers=2)),
    ],
    ids=["cell", "macro", "mlp"],
)
def test_mutation_changes_exactly_one_decision_that_matters(space):
    import random

    rng = random.Random(0)
    for _ in range(50):
        parent = space.sample(rng)
        child = space.mutate(parent, rng)
        changed = [i for i, (a, b) in enumerate(zip(parent, child, strict=True)) if a != b]
        assert len(changed) == 1
        assert changed[0] in space.active(parent)
        assert space.key(child) != space.key(parent)
        assert all(0 <= c < d.n for c, d in zip(child, space.decisions(), strict=True))


def test_cell_decoding_never_uses_none_and_inputs_precede_the_node():
    space = CellSpace(CellSpace.options(nodes=3, cells=2))
    import random

    genotype = space.decode(space.sample(random.Random(1)))
    assert genotype["reduce_at"] == [1]
    for kind in ("normal", "reduce"):
        assert len(genotype[kind]) == 3
        for node, edges in enumerate(genotype[kind]):
            assert len(edges) == 2
            assert all(op != "none" and 0 <= inp < node + 2 for op, inp in edges)


def test_layered_spaces_decode_their_depth():
    space = MacroSpace(MacroSpace.options(min_layers=1, max_layers=3, widths=[4, 8]))
    choices = [2] + [1, 0, 0] * 3
    assert space.decode(choices) == {
        "space": "macro",
        "layers": [{"width": 8, "kernel": 3, "activation": "relu"}] * 3,
    }
    assert len(space.decode([0] + choices[1:])["layers"]) == 1


def test_trainer_options_are_taken_and_device_and_processes_are_pointed_elsewhere():
    config = validate_nas_config({"trainer": {"amp": True, "clip_norm": 1.0}}, "tabular")
    assert config["trainer"] == {
        "amp": True,
        "accumulation_steps": 1,
        "clip_norm": 1.0,
        "stages": 1,
    }
    assert validate_nas_config({}, "tabular")["trainer"]["amp"] is False
    with pytest.raises(ConfigError) as exc:
        validate_nas_config({"trainer": {"device": "cuda", "processes": 2, "amp": 1}}, "tabular")
    errors = exc.value.errors
    assert "resources.device" in errors["trainer.device"]
    assert "parallelism" in errors["trainer.processes"]
    assert errors["trainer.amp"] == "must be true or false"


@pytest.mark.parametrize(
    "config,kind",
    [
        ({"space": {"name": "cell", "channels": 256, "cells": 20, "nodes": 8}}, "image"),
        (
            {
                "strategy": "evolution",
                "space": {"name": "macro", "widths": [4096], "max_layers": 8},
            },
            "image",
        ),
        ({"space": {"name": "mlp", "widths": [4096], "max_layers": 8}}, "tabular"),
    ],
)
def test_a_network_over_the_parameter_budget_is_refused_before_it_is_built(config, kind):
    with pytest.raises(ConfigError) as info:
        validate_nas_config(config, kind, n_features=64)
    assert "at most 50,000,000" in info.value.errors["space"]


@pytest.mark.parametrize(
    "options",
    [{}, {"channels": 8, "cells": 5, "nodes": 2}, {"ops": ["sep_conv_5x5", "skip_connect"]}],
)
def test_the_supernet_estimate_counts_what_darts_builds(options):
    from workers.nas.darts import SuperNet
    from workers.nas.spaces import CellSpace, reduction_cells

    space = CellSpace(CellSpace.options(**options))
    o = space.opts
    net = SuperNet(o.ops, 1, 10, o.channels, o.cells, o.nodes, reduction_cells(o.cells))
    weights = sum(
        p.numel()
        for name, p in net.named_parameters()
        if p.dim() > 1 and not name.startswith(("head", "alphas"))
    )
    assert space.largest_params(1) == weights

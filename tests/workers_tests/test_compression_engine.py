"""Compression engine on tiny models: the config rules, the contract every technique keeps,
structured pruning's shapes and outputs, the quantizers, storage and the quality bar."""

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.support.factories import reload_accuracy
from workers.compression.config import (
    TECHNIQUE_OPTIONS,
    ConfigError,
    validate_compression_config,
)
from workers.data.builtin import load_builtin
from workers.models.artifacts import SPEC_FILE, save_model, scaling_spec
from workers.reporter import Reporter as BaseReporter
from workers.training.cnn import CNN, CNNConfig, train_cnn
from workers.training.mlp import MLP, MLPConfig, train_mlp

ROOT = Path(__file__).resolve().parents[2]


class Reporter(BaseReporter):
    def __init__(self) -> None:
        self.fractions: list[float] = []

    def progress(self, fraction: float) -> None:
        self.fractions.append(fraction)


@pytest.fixture(scope="module")
def digits():
    return load_builtin("digits")


def mlp_dir(tmp: Path, data, hidden: int = 32, epochs: int = 8) -> Path:
    cfg = MLPConfig(n_features=64, n_outputs=10, hidden_layers=2, hidden_units=hidden, dropout=0.0)
    model = MLP(cfg)
    train_mlp(
        model,
        data.X,
        data.y,
        None,
        None,
        task="classification",
        epochs=epochs,
        lr=0.003,
        batch_size=64,
        weight_decay=0.0,
        seed=0,
    )
    spec = {"kind": "mlp", "config": asdict(cfg), "classes": data.classes, **scaling_spec(data.X)}
    save_model(model, tmp / "mlp", family="mlp", spec=spec)
    return tmp / "mlp"


def cnn_dir(tmp: Path, data) -> Path:
    model = CNN(CNNConfig(1, 8, 8, 10, channels=(8, 16)))
    images = data.X.reshape(-1, 1, 8, 8)
    train_cnn(
        model,
        images,
        data.y,
        images[:4],
        data.y[:4],
        epochs=3,
        lr=0.01,
        batch_size=64,
        weight_decay=0.0,
        seed=0,
    )
    save_model(
        model,
        tmp / "cnn",
        family="cnn",
        spec={"kind": "cnn", "config": asdict(model.config), "classes": data.classes},
    )
    return tmp / "cnn"


@pytest.fixture(scope="module")
def models(tmp_path_factory, digits):
    tmp = tmp_path_factory.mktemp("models")
    return {"mlp": mlp_dir(tmp, digits), "cnn": cnn_dir(tmp, digits)}


def run(config: dict, model_dir: Path, data, out: Path, teachers=None) -> dict:
    from workers.compression.engine import run_compression

    config = validate_compression_config({"model_version": 1, "report": {"repeats": 2}, **config})
    return run_compression(config, model_dir, data, Reporter(), directory=out, teachers=teachers)


# --- config (no torch)


def test_validation_never_imports_torch_or_django():
    code = (
        "import sys; from workers.compression.config import validate_compression_config as v;"
        "v({'model_version': 1, 'steps': ['dynamic_int8']});"
        "assert 'torch' not in sys.modules and 'django' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_defaults_are_filled_in():
    config = validate_compression_config(
        {"model_version": 3, "steps": ["prune_structured"]}
    ).to_json()
    assert config["steps"] == [
        {
            "technique": "prune_structured",
            "ratio": 0.5,
            "steps": 1,
            "schedule": "linear",
            "finetune_epochs": 1,
        }
    ]
    assert config["finetune"]["lr"] == 0.001 and config["report"] == {"repeats": 10}
    assert config["tolerance"] == 0.02 and config["gate"] is False
    gated = validate_compression_config(
        {"model_version": 3, "steps": ["half"], "tolerance": 0.05, "gate": True}
    )
    assert gated.tolerance == 0.05 and gated.gate is True


@pytest.mark.parametrize(
    "config, field",
    [
        ({"steps": ["dynamic_int8"]}, "model_version"),
        ({"model_version": 1, "steps": []}, "steps"),
        ({"model_version": 1, "steps": ["zip"]}, "steps.0.technique"),
        ({"model_version": 1, "steps": [{"technique": "weight_only", "bits": 9}]}, "steps.0.bits"),
        (
            {"model_version": 1, "steps": [{"technique": "distill", "student": {"shrink": 2}}]},
            "steps.0.student",
        ),
        (
            {"model_version": 1, "steps": [{"technique": "static_int8", "observer": "x"}]},
            "steps.0.observer",
        ),
        ({"model_version": 1, "steps": ["half"], "colour": 1}, "colour"),
        ({"model_version": True, "steps": ["half"]}, "model_version"),
        ({"model_version": 1, "steps": ["half"], "tolerance": 1.5}, "tolerance"),
        ({"model_version": 1, "steps": ["half"], "tolerance": "low"}, "tolerance"),
        ({"model_version": 1, "steps": ["half"], "gate": "yes"}, "gate"),
    ],
)
def test_bad_configs_name_the_field(config, field):
    with pytest.raises(ConfigError) as info:
        validate_compression_config(config)
    assert field in info.value.errors


# --- the contract every technique keeps


def test_every_declared_technique_has_an_implementation():
    from workers.compression.techniques import TECHNIQUES

    assert set(TECHNIQUES) == set(TECHNIQUE_OPTIONS)


STEPS = {
    "prune_magnitude": {"sparsity": 0.5, "steps": 2, "schedule": "cubic"},
    "prune_structured": {"ratio": 0.5},
    "distill": {"epochs": 2, "mode": "relation"},
    "dynamic_int8": {},
    "static_int8": {"observer": "minmax"},
    "qat": {"epochs": 1},
    "half": {"dtype": "bfloat16"},
    "weight_only": {"bits": 4, "symmetric": False},
    "mixed": {"bits": 3, "keep_float": 0.34},
}


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", sorted(TECHNIQUE_OPTIONS))
def test_each_technique_reloads_from_its_files_with_the_reported_accuracy(
    tmp_path, models, digits, kind, name
):
    from workers.compression.store import load_compressed

    before = (models[kind] / "weights.safetensors").read_bytes()
    result = run({"steps": [{"technique": name, **STEPS[name]}]}, models[kind], digits, tmp_path)
    step = result["steps"][0]
    report = step["report"]
    assert (models[kind] / "weights.safetensors").read_bytes() == before
    assert report["accuracy"] > 0.1 and report["macs"] > 0 and report["file_bytes"] > 0
    assert report["nonzero_params"] <= report["params"]
    assert set(step["relative"]) >= {"size_ratio", "speedup_b1", "speedup_b64", "accuracy_delta"}
    config = validate_compression_config({"model_version": 1, "steps": [name]})
    assert reload_accuracy(Path(step["directory"]), config, digits) == report["accuracy"]
    spec = json.loads((Path(step["directory"]) / SPEC_FILE).read_text())
    assert spec["compression_chain"][0]["technique"] == name
    assert load_compressed(Path(step["directory"])).module is not None


def test_a_chain_starts_each_step_from_the_previous_one(tmp_path, models, digits):
    result = run(
        {"steps": ["prune_structured", {"technique": "distill", "epochs": 1}, "dynamic_int8"]},
        models["mlp"],
        digits,
        tmp_path,
    )
    steps = result["steps"]
    assert [s["technique"] for s in steps] == ["prune_structured", "distill", "dynamic_int8"]
    assert steps[0]["report"]["params"] < result["original"]["params"]
    assert steps[1]["report"]["params"] < steps[0]["report"]["params"]  # shrunk again
    assert steps[2]["report"]["file_bytes"] < steps[1]["report"]["file_bytes"]


def test_a_float_technique_after_quantization_is_refused(tmp_path, models, digits):
    from workers.compression.common import CompressionError

    with pytest.raises(CompressionError, match="already quantized"):
        run({"steps": ["dynamic_int8", "prune_structured"]}, models["mlp"], digits, tmp_path)


# --- pruning


def test_global_magnitude_pruning_reaches_the_sparsity_and_is_permanent(tmp_path, models, digits):
    from workers.compression.store import load_compressed

    result = run(
        {"steps": [{"technique": "prune_magnitude", "sparsity": 0.6, "finetune_epochs": 0}]},
        models["mlp"],
        digits,
        tmp_path,
    )
    module = load_compressed(Path(result["steps"][0]["directory"])).module
    weights = torch.cat(
        [m.weight.reshape(-1) for m in module.modules() if isinstance(m, torch.nn.Linear)]
    )
    assert (weights == 0).float().mean().item() == pytest.approx(0.6, abs=0.01)
    assert not any(name.endswith("_orig") for name, _ in module.named_parameters())


def test_sensitivity_sets_per_layer_ratios_for_the_target(tmp_path, models, digits):
    result = run(
        {
            "steps": [
                {
                    "technique": "prune_magnitude",
                    "sparsity": 0.5,
                    "sensitivity": True,
                    "finetune_epochs": 0,
                }
            ]
        },
        models["mlp"],
        digits,
        tmp_path,
    )
    notes = result["steps"][0]["notes"]
    assert set(notes["sensitivity"]) == {"net.0", "net.3", "net.6"}
    ratios = notes["layer_sparsity"]
    sizes = {"net.0": 64 * 32, "net.3": 32 * 32, "net.6": 32 * 10}
    overall = sum(ratios[n] * sizes[n] for n in sizes) / sum(sizes.values())
    assert overall == pytest.approx(0.5, abs=0.02)


def test_structured_pruning_changes_shapes_and_keeps_outputs_of_zero_channels():
    from workers.compression.pruning import shrink

    torch.manual_seed(0)
    mlp = MLP(MLPConfig(5, 3, 2, 8, 0.0)).eval()
    cnn = CNN(CNNConfig(1, 8, 8, 3, channels=(4, 6))).eval()
    with torch.no_grad():  # half of every hidden layer's neurons / channels output zero
        for lin in (mlp.net[0], mlp.net[3]):
            lin.weight[::2] = 0
            lin.bias[::2] = 0
        for block in (0, 4):
            conv, bn = cnn.features[block], cnn.features[block + 1]
            conv.weight[::2] = 0
            bn.weight[::2] = 0
            bn.bias[::2] = 0
        for bn in (cnn.features[1], cnn.features[5]):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    for model, kind, x in ((mlp, "mlp", torch.randn(7, 5)), (cnn, "cnn", torch.randn(7, 1, 8, 8))):
        spec = {"kind": kind, "config": asdict(model.config)}
        small, small_spec = shrink(model, spec, 0.5)
        with torch.no_grad():
            assert torch.allclose(small(x), model(x), atol=1e-5)
        if kind == "mlp":
            assert [tuple(m.weight.shape) for m in small.net if hasattr(m, "weight")] == [
                (4, 5),
                (4, 4),
                (3, 4),
            ]
            assert small_spec["config"]["hidden_units"] == 4
        else:
            assert small.features[0].weight.shape == (2, 1, 3, 3)
            assert small.features[4].weight.shape == (3, 2, 3, 3)
            assert small.features[5].running_mean.shape == (3,)
            assert small.head.weight.shape == (3, 3)
            assert small_spec["config"]["channels"] == (2, 3)


def test_schedules_end_at_the_target():
    from workers.compression.pruning import schedule

    assert schedule(0.8, 4, "linear") == pytest.approx([0.2, 0.4, 0.6, 0.8])
    cubic = schedule(0.8, 4, "cubic")
    assert cubic[-1] == pytest.approx(0.8) and cubic[0] > 0.2  # large cuts first


# --- quantizers


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize(
    "scheme, symmetric, per_channel",
    [("linear", True, True), ("linear", False, False), ("log2", True, True)],
)
def test_weight_codes_pack_and_dequantize_within_one_step(bits, scheme, symmetric, per_channel):
    from workers.compression import quantize as q

    torch.manual_seed(bits)
    w = torch.randn(6, 9)
    codes, params = q.quantize_tensor(
        w, scheme=scheme, bits=bits, symmetric=symmetric, per_channel=per_channel
    )
    assert int(codes.max()) < 2**bits
    packed = q.pack_bits(codes, bits)
    assert packed.numel() == -(-w.numel() * bits // 8)  # bits per weight, rounded up
    assert torch.equal(q.unpack_bits(packed, bits, tuple(w.shape)), codes)
    back = q.dequantize_tensor(codes, params, scheme=scheme, bits=bits, per_channel=per_channel)
    if scheme == "linear":
        step = params["scale"].max()
        assert (back - w).abs().max() <= step / 2 + 1e-6
    else:  # power-of-two levels: relative error at most a factor of sqrt(2) for kept weights
        kept = back != 0
        ratio = back[kept] / w[kept]
        assert (ratio > 0).all() and (ratio.abs() < 1.5).all() and (ratio.abs() > 0.66).all()


def test_dynamic_int8_of_an_mlp_meets_the_quality_bar(tmp_path, digits):
    directory = mlp_dir(tmp_path, digits, hidden=256, epochs=6)
    result = run({"steps": ["dynamic_int8"]}, directory, digits, tmp_path / "out")
    step = result["steps"][0]
    assert step["relative"]["size_ratio"] >= 3.5
    assert step["relative"]["accuracy_delta"] >= -0.01


def test_a_distilled_student_beats_the_same_student_trained_alone(tmp_path, models, digits):
    """Mean test accuracy over three seeds at an equal budget (20 epochs). At 3-5 epochs
    the soft targets did not help this 4-unit student, so the budget is part of the claim."""
    from workers.compression.common import Compressed, accuracy, split, train
    from workers.compression.store import load_compressed
    from workers.models.kinds import build_torch

    step = {
        "technique": "distill",
        "student": {"shrink": 0.125},
        "epochs": 20,
        "lr": 0.01,
        "temperature": 2.0,
        "alpha": 0.5,
    }
    distilled, alone = [], []
    for seed in range(3):
        result = run({"steps": [step], "seed": seed}, models["mlp"], digits, tmp_path / f"{seed}")
        distilled.append(result["steps"][0]["report"]["accuracy"])
        student = load_compressed(Path(result["steps"][0]["directory"]))
        config = validate_compression_config({"model_version": 1, "steps": [step], "seed": seed})
        splits = split(config, digits, student.spec)
        torch.manual_seed(seed)  # the same initial weights as the distilled student
        baseline = build_torch(student.spec)
        train(
            baseline,
            splits.x["train"],
            splits.y["train"],
            epochs=20,
            lr=0.01,
            batch_size=64,
            seed=seed,
        )
        alone.append(
            accuracy(Compressed(baseline, student.spec), splits.x["test"], splits.y["test"])
        )
    assert sum(distilled) / 3 > sum(alone) / 3 + 0.01, (distilled, alone)


def test_a_quantized_model_loads_through_load_model_like_any_other(tmp_path, models, digits):
    # Serving and the registry load every version through load_model.
    from workers.compression.store import load_predictor
    from workers.models.artifacts import load_model

    result = run({"steps": ["dynamic_int8"]}, models["mlp"], digits, tmp_path)
    directory = Path(result["steps"][0]["directory"])
    rows = digits.X[:8]
    assert np.array_equal(
        load_model(directory).predict(rows), load_predictor(directory).predict(rows)
    )

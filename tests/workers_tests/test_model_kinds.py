"""The contract every model kind and compressed form keeps, run over the registry.

Adding a kind: one module under workers/models/kinds/, one registry line, and its sample
spec below (the first test fails until it is there).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from workers.models import kinds
from workers.models.artifacts import load_model, save_model
from workers.models.export import ExportError, to_torchscript
from workers.models.kinds import ACTIONS, FORMS, MODEL_KINDS, TECHNIQUES

README = Path(__file__).resolve().parents[2] / "README.md"


def _mlp() -> dict:
    from workers.training.mlp import MLPConfig

    cfg = MLPConfig(n_features=5, n_outputs=3, hidden_layers=1, hidden_units=8, dropout=0.0)
    return {"kind": "mlp", "config": asdict(cfg), "input_mean": [0.5] * 5, "input_std": [2] * 5}


def _cnn() -> dict:
    from workers.training.cnn import CNNConfig

    cfg = CNNConfig(in_channels=1, height=8, width=8, n_outputs=3, channels=(4,))
    return {"kind": "cnn", "config": asdict(cfg)}


def _genotype(space: str, input_shape: list[int], **options) -> dict:
    import random

    from workers.nas.spaces import SPACES
    from workers.training.genotype import GenotypeConfig

    searched = SPACES[space](SPACES[space].options(**options))
    genotype = searched.decode(searched.sample(random.Random(0)))
    cfg = GenotypeConfig(genotype=genotype, input_shape=input_shape, n_outputs=3)
    return {"kind": "genotype", "config": asdict(cfg)}


SAMPLES = {
    "mlp": _mlp,
    "cnn": _cnn,
    "genotype": lambda: _genotype("mlp", [5]),  # the tabular space (evolution, random)
    "sklearn": lambda: {"framework": "sklearn", "family": "random_forest"},
    "ensemble": lambda: {"kind": "ensemble", "framework": "sklearn", "family": "ensemble"},
    "external": lambda: {
        "kind": "external",
        "framework": "external",
        "files": {"weights.npz": {"sha256": "0" * 64, "size": 3}},
    },
    "onnx": lambda: {"kind": "onnx", "framework": "onnx", "features": ["a", "b"]},
    "pt2": lambda: {"kind": "pt2", "framework": "torch-export", "features": ["a", "b"]},
}
# torch samples by test id: every torch kind, and the DARTS cell beside the tabular space
TORCH_SAMPLES = {
    **{
        n: f
        for n, f in SAMPLES.items()
        if n not in ("sklearn", "external", "ensemble", "onnx", "pt2")
    },
    "genotype-cell": lambda: _genotype("cell", [1, 8, 8], nodes=2, cells=2, channels=4),
}


def test_every_kind_has_a_sample_spec():
    assert set(SAMPLES) == set(MODEL_KINDS)


def test_it_reads_labels_without_importing_torch_modules():
    # The registry is lazy: naming kinds imports none of their modules.
    assert all(isinstance(label, str) and label for label, _ in MODEL_KINDS.values())
    assert all(path.startswith("workers.models.kinds.") for _, path in MODEL_KINDS.values())


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_each_kind_declares_its_capabilities(name):
    kind = kinds.get_kind(name)
    assert kind.name == name and kind.label
    assert kind.framework in ("torch", "sklearn", "external", "onnx", "torch-export")
    assert set(kind.exports) <= {"onnx", "torchscript"}
    assert set(kind.techniques) <= set(TECHNIQUES)
    assert kind.explanation in ("integrated_gradients", "occlusion")
    for action in ACTIONS:
        reason = kind.refusal(action)
        assert reason is None or (isinstance(reason, str) and reason)
    for technique in TECHNIQUES:
        reason = kind.technique_refusal(technique)
        assert (reason is None) == (technique in kind.techniques), technique
    assert kinds.kind_of(SAMPLES[name]()) is kind


@pytest.mark.parametrize("sample", TORCH_SAMPLES)
def test_each_torch_kind_builds_takes_its_example_and_flat_rows(sample):
    spec = TORCH_SAMPLES[sample]()
    kind = kinds.kind_of(spec)
    module = kind.build(spec).eval()
    example = kind.example_input(spec, batch=3)
    with torch.no_grad():
        out = module(example)
    assert out.shape[0] == 3
    flat = torch.zeros(3, kind.n_inputs(spec), dtype=torch.float64)
    assert kind.model_input(spec, flat).shape == example.shape


@pytest.mark.parametrize("sample", TORCH_SAMPLES)
def test_each_torch_kind_saves_reloads_and_exports_as_declared(sample, tmp_path):
    spec = {**TORCH_SAMPLES[sample](), "task": "classification", "classes": ["a", "b", "c"]}
    kind = kinds.kind_of(spec)
    save_model(kind.build(spec), tmp_path, family=kind.name, spec=spec)
    model = load_model(tmp_path)
    rows = np.random.default_rng(0).normal(size=(4, kind.n_inputs(spec)))
    assert set(model.predict(rows)) <= {"a", "b", "c"}
    if kind.refusal("export_torchscript") is None:
        loaded = torch.jit.load(str(to_torchscript(tmp_path, tmp_path / "m.pt")))
        assert loaded(kind.example_input(spec)).shape == (2, 3)
    else:
        with pytest.raises(ExportError):
            to_torchscript(tmp_path, tmp_path / "m.pt")


def test_sklearn_refuses_exports_and_compression_naming_why():
    spec = SAMPLES["sklearn"]()
    for action in ("export_torchscript", "compress"):
        assert "scikit-learn" in kinds.refusal(spec, action)
    assert kinds.refusal(spec, "deploy") is None
    assert kinds.refusal({**spec, "family": "random_forest"}, "export_onnx") is None
    assert "onnxmltools" in kinds.refusal({**spec, "family": "lightgbm"}, "export_onnx")


@pytest.mark.parametrize("name", FORMS)
def test_each_form_narrows_and_never_widens(name):
    form = kinds.get_form(name)
    assert form.name == name and form.label
    if form.exports is not None:
        assert set(form.exports) <= {"onnx", "torchscript"} and form.export_reason
    if form.techniques is not None:
        assert set(form.techniques) <= set(TECHNIQUES) and form.technique_reason
    spec = {**_mlp(), "compression": {"method": name}} if name in TECHNIQUES else _mlp()
    for action in ACTIONS:  # a form may refuse what its kind allows, never the reverse
        if kinds.refusal(_mlp(), action) is not None:
            assert kinds.refusal(spec, action) is not None


def test_int8_refuses_onnx_naming_why_and_keeps_torchscript():
    spec = {**_mlp(), "compression": {"method": "dynamic_int8"}}
    assert "int8" in kinds.refusal(spec, "export_onnx")
    assert kinds.refusal(spec, "export_torchscript") is None
    assert kinds.technique_refusal(spec, "prune_magnitude") is not None
    assert kinds.technique_refusal(spec, "distill") is None


def test_float_compression_steps_name_their_form():
    chain = [{"technique": "prune_structured"}, {"technique": "distill"}]
    assert kinds.form_name({**_mlp(), "compression_chain": chain}) == "distilled"
    assert kinds.form_name(_mlp()) == "float"


def test_a_users_own_files_are_kept_and_downloaded_and_nothing_else():
    spec = SAMPLES["external"]()
    allowed = [action for action in ACTIONS if kinds.refusal(spec, action) is None]
    assert allowed == ["register", "download"]
    assert "does not read" in kinds.refusal(spec, "deploy")
    assert kinds.kind_of(spec).files(spec) == {"spec.json", "weights.npz"}
    assert not kinds.kind_of(spec).loadable and kinds.kind_of(_mlp()).loadable


def test_unknown_kinds_are_named():
    with pytest.raises(kinds.UnknownKindError, match="transformer"):
        kinds.kind_of({"kind": "transformer"})


def test_the_readme_holds_the_capability_table_the_registry_prints():
    table = kinds.capability_table()
    assert len(table.splitlines()) > len(kinds.rows()) + 2
    assert table in README.read_text(), (
        "README.md's capability table is stale: paste `python -m workers.models.kinds`"
    )


def test_nothing_outside_the_registry_branches_on_a_model_kind():
    # Issue 18's check, as its text gives it: `grep -rn '"kind") ==' workers platform`
    # finds nothing outside workers/models/kinds/ (a column's kind is read into a name
    # that says so). Any such branch would be an eleventh place that knows the kinds.
    root = README.parent
    registry = root / "workers" / "models" / "kinds"
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for folder in ("workers", "platform")
        for path in sorted((root / folder).rglob("*.py"))
        if registry not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if '"kind") ==' in line or '"kind") !=' in line
    ]
    assert not found, "\n".join(found)

"""Compression of models that stand behind a fitted preprocessing (every uploaded CSV) and
of NAS genotypes: steps inherit the parent's preprocessing and drift reference, score
through them, and a step losing more than the chain's tolerance is flagged (or gated)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from workers.compression.config import validate_compression_config
from workers.data.preprocess import DEFAULTS
from workers.data.tabular import TabularData
from workers.models.artifacts import (
    data_spec,
    load_model,
    load_preprocessing,
    save_version,
    scaling_spec,
)
from workers.reporter import Reporter
from workers.training.mlp import MLP, MLPConfig

FEATURES = ["size", "color"]


@pytest.fixture(scope="module")
def upload() -> TabularData:
    """A CSV as uploaded: a categorical column, missing numbers, a string target."""
    rng = np.random.default_rng(0)
    n = 300
    size = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    y = ((size > 0) ^ (color == "red")).astype(np.int64)
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = [None if i % 13 == 0 else f"{v:.3f}" for i, v in enumerate(size)]
    X[:, 1] = color
    return TabularData(
        X=X,
        y=y,
        feature_names=FEATURES,
        task="classification",
        target_name="label",
        column_kinds=["numeric", "categorical"],
        classes=["no", "yes"],
        preprocessing={**DEFAULTS, "drop": ["id"]},
    )


def _train(module: torch.nn.Module, x: torch.Tensor, y: np.ndarray) -> None:
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
    for _ in range(150):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(module(x), torch.as_tensor(y)).backward()
        optimiser.step()
    module.eval()


@pytest.fixture(scope="module")
def hpo_mlp(tmp_path_factory, upload) -> Path:
    """What HPO saves for an MLP on that upload: the network behind its preprocessing."""
    directory = tmp_path_factory.mktemp("hpo") / "mlp"
    transformer = upload.make_transformer({})
    Xt = transformer.fit_transform(upload.X)
    config = MLPConfig(Xt.shape[1], 2, hidden_layers=1, hidden_units=16, dropout=0.0)
    module = MLP(config)
    spec = {
        "kind": "mlp",
        "config": asdict(config),
        "task": "classification",
        "classes": [0, 1],
        **scaling_spec(Xt),
        **data_spec(FEATURES, upload.classes, target="label", dropped=["id"]),
    }
    x = torch.as_tensor((Xt - spec["input_mean"]) / spec["input_std"], dtype=torch.float32)
    _train(module, x, upload.y)
    save_version(
        module, directory, family="mlp", spec=spec, transformer=transformer, rows=upload.X
    )
    return directory


def run(steps, model_dir: Path, data, out: Path, **extra) -> dict:
    from workers.compression.engine import run_compression

    config = validate_compression_config(
        {"model_version": 1, "report": {"repeats": 2}, "steps": steps, **extra}
    )
    return run_compression(config, model_dir, data, Reporter(), directory=out)


def _accuracy_through_preprocessing(directory: Path, data: TabularData) -> float:
    model, transformer = load_model(directory), load_preprocessing(directory)
    return float((model.predict(transformer.transform(data.X)) == data.y).mean())


def test_steps_inherit_the_preprocessing_and_score_like_the_parent(tmp_path, hpo_mlp, upload):
    parent = _accuracy_through_preprocessing(hpo_mlp, upload)
    assert parent > 0.9  # the network learnt the rule through the encoded columns
    result = run(["dynamic_int8"], hpo_mlp, upload, tmp_path)
    # The original is scored through its preprocessing, as served: not on raw cells.
    assert result["original"]["accuracy"] > 0.85
    step = Path(result["steps"][0]["directory"])
    assert {"preprocessing.skops", "preprocessing.json", "reference.json"} <= {
        p.name for p in step.iterdir()
    }
    assert (step / "reference.json").read_bytes() == (hpo_mlp / "reference.json").read_bytes()
    reloaded = _accuracy_through_preprocessing(step, upload)
    assert abs(reloaded - parent) <= 0.02
    assert result["flagged"] == [] and not result["gated"]


def test_a_step_losing_more_than_the_tolerance_is_flagged_and_a_gate_stops(
    tmp_path, hpo_mlp, upload
):
    harsh = {"technique": "prune_magnitude", "sparsity": 0.99, "finetune_epochs": 0}
    result = run([harsh, "dynamic_int8"], hpo_mlp, upload, tmp_path / "a", tolerance=0.0)
    assert result["flagged"][0] == 0
    assert "tolerance" in result["steps"][0]["flagged"]
    gated = run([harsh, "dynamic_int8"], hpo_mlp, upload, tmp_path / "b", tolerance=0.0, gate=True)
    assert gated["gated"] and len(gated["steps"]) == 1


@pytest.fixture(scope="module")
def nas_model(tmp_path_factory, upload) -> tuple[Path, TabularData]:
    """A genotype of the tabular NAS space over numeric rows, as NAS retrains and saves it."""
    import random

    from workers.nas.spaces import SPACES
    from workers.training.genotype import GenotypeConfig, GenotypeNetwork

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    data = TabularData(X, y, ["a", "b", "c", "d"], "classification", "t", classes=["no", "yes"])
    space = SPACES["mlp"]()
    config = GenotypeConfig(space.decode(space.sample(random.Random(0))), [4], 2)
    module = GenotypeNetwork(config)
    _train(module, torch.as_tensor(X, dtype=torch.float32), y)
    spec = {"kind": "genotype", "config": asdict(config), "task": "classification"}
    spec.update(classes=[0, 1], **data_spec(data.feature_names, data.classes))
    directory = tmp_path_factory.mktemp("nas") / "genotype"
    save_version(module, directory, family="nas", spec=spec, rows=X)
    return directory, data


def test_a_nas_genotype_compresses_and_refuses_what_does_not_apply(tmp_path, nas_model):
    from workers.compression.common import CompressionError

    directory, data = nas_model
    result = run(["prune_magnitude", "dynamic_int8"], directory, data, tmp_path / "ok")
    assert [s["technique"] for s in result["steps"]] == ["prune_magnitude", "dynamic_int8"]
    assert (Path(result["steps"][1]["directory"]) / "reference.json").is_file()
    with pytest.raises(CompressionError, match="static_int8 does not apply to NAS genotypes"):
        run(["static_int8"], directory, data, tmp_path / "refused")

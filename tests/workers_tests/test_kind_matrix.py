"""The kind x action matrix in process, over the model-kind registry, on an upload-like
table (a categorical column, missing numbers, a string target).

Rows: each HPO family (svm also under roc_auc: calibrated), mlp, and the mlp after each
compression technique. Each cell either works or is refused with a reason, and the
registry's declaration decides which: the README's capability table cannot drift from
what the engines do. (The API side of the same cells: tests/registry_tests.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from workers.compression.common import CompressionError
from workers.compression.config import validate_compression_config
from workers.compression.engine import run_compression
from workers.data.preprocess import DEFAULTS
from workers.data.tabular import TabularData
from workers.evaluation.explain import explain
from workers.evaluation.report import Predictor, evaluate
from workers.hpo.config import validate_hpo_config
from workers.hpo.objective import fit
from workers.models import kinds
from workers.models.artifacts import (
    data_spec,
    decode_predictions,
    load_model,
    load_preprocessing,
    read_json,
    save_version,
)
from workers.models.export import ExportError, to_onnx, to_torchscript
from workers.monitoring.report import drift_report
from workers.reporter import Reporter

FEATURES = ["size", "color"]
FAMILIES = [
    ("random_forest", "accuracy"),
    ("hist_gradient_boosting", "accuracy"),
    ("knn", "accuracy"),
    ("logistic_regression", "accuracy"),
    ("svm", "accuracy"),
    ("svm", "roc_auc"),
    ("mlp", "accuracy"),
]
COMPRESSED = list(kinds.TECHNIQUES)
# Accuracy a technique's output may lose against its parent here: a distilled student is a
# fresh, narrower network trained for the default few epochs.
TOLERANCE = {"distill": 0.2}


@pytest.fixture(scope="module")
def table() -> TabularData:
    rng = np.random.default_rng(0)
    n = 240
    size = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    y = (size + 1.5 * (color == "red") > 0.5).astype(np.int64)  # linear: every family learns it
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = [None if i % 11 == 0 else f"{v:.3f}" for i, v in enumerate(size)]
    X[:, 1] = color
    return TabularData(
        X,
        y,
        FEATURES,
        "classification",
        "label",
        ["numeric", "categorical"],
        ["no", "yes"],
        DEFAULTS,
    )


def _hpo_version(directory: Path, table: TabularData, family: str, metric: str) -> Path:
    """What HPO's refit saves for the family under the metric."""
    config = validate_hpo_config({"model": family, "metric": metric, "seed": 0}, "classification")
    params = {"epochs": 60, "lr": 0.02} if family == "mlp" else {}
    fitted = fit(
        config,
        params,
        table.X,
        table.y,
        make_transformer=table.make_transformer,
        proba=metric == "roc_auc",
    )
    spec = {"task": "classification", **data_spec(FEATURES, table.classes, target="label")}
    save_version(
        fitted.model,
        directory,
        family=family,
        spec=spec,
        transformer=fitted.transformer,
        rows=table.X,
    )
    return directory


@pytest.fixture(scope="module")
def versions(tmp_path_factory, table) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("matrix")
    out = {
        f"{family}-{metric}": _hpo_version(root / f"{family}-{metric}", table, family, metric)
        for family, metric in FAMILIES
    }
    parent = out["mlp-accuracy"]
    for technique in COMPRESSED:
        config = validate_compression_config(
            {"model_version": 1, "report": {"repeats": 1}, "steps": [technique]}
        )
        result = run_compression(config, parent, table, Reporter(), directory=root / technique)
        out[technique] = Path(result["steps"][0]["directory"])
    return out


ROWS = [f"{f}-{m}" for f, m in FAMILIES] + COMPRESSED


def _predictor(directory: Path) -> Predictor:
    return Predictor(
        load_model(directory), load_preprocessing(directory), read_json(directory / "spec.json")
    )


@pytest.mark.parametrize("row", ROWS)
def test_evaluate_predict_explain_and_drift_work_for_every_row(row, versions, table):
    directory = versions[row]
    spec = read_json(directory / "spec.json")
    for action in ("register", "evaluate", "explain", "download", "bundle", "deploy", "drift"):
        assert kinds.refusal(spec, action) is None, action
    predictor = _predictor(directory)
    report, _ = evaluate(predictor, table.X, table.y, task="classification", n_resamples=10)
    accuracy = report["metrics"]["accuracy"]["value"]
    assert accuracy > 0.7, accuracy
    if row in COMPRESSED:  # agrees with its parent within the technique's tolerance
        parent, _ = evaluate(
            _predictor(versions["mlp-accuracy"]),
            table.X,
            table.y,
            task="classification",
            n_resamples=10,
        )
        assert accuracy >= parent["metrics"]["accuracy"]["value"] - TOLERANCE.get(row, 0.1)
    labels = decode_predictions(spec, predictor.predict(table.X[:5]), predictor.classes)
    assert set(labels.tolist()) <= {"no", "yes"}  # the data's labels, not indices
    reference = json.loads((directory / "reference.json").read_text())
    out = explain(predictor, table.X[:2], FEATURES, "classification", reference)
    assert len(out["rows"]) == 2 and set(out["rows"][0]["attributions"]) == set(FEATURES)
    drift = drift_report(reference, table.X[:100], FEATURES)
    assert set(drift["features"]) == set(FEATURES)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("row", ROWS)
def test_exports_work_or_are_refused_as_declared(row, fmt, versions, tmp_path):
    directory = versions[row]
    export = to_onnx if fmt == "onnx" else to_torchscript
    reason = kinds.refusal(read_json(directory / "spec.json"), f"export_{fmt}")
    if reason is None:
        assert export(directory, tmp_path / "model").stat().st_size > 0
    else:
        with pytest.raises(ExportError, match=re.escape(reason[:20])):
            export(directory, tmp_path / "model")


@pytest.mark.parametrize("row", ROWS)
def test_compress_again_works_or_is_refused_as_declared(row, versions, table, tmp_path):
    directory = versions[row]
    spec = read_json(directory / "spec.json")
    technique = "dynamic_int8"
    config = validate_compression_config(
        {"model_version": 1, "report": {"repeats": 1}, "steps": [technique]}
    )
    reason = kinds.refusal(spec, "compress") or kinds.technique_refusal(spec, technique)
    if reason is None:
        result = run_compression(config, directory, table, Reporter(), directory=tmp_path)
        assert result["steps"][0]["report"]["accuracy"] > 0.7
    else:
        with pytest.raises(CompressionError, match=re.escape(reason[:20])):
            run_compression(config, directory, table, Reporter(), directory=tmp_path)

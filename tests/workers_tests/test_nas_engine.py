"""The NAS job end to end in one process: search, retrain from scratch, save, reload."""

import json

import numpy as np
import pytest
import torch

from workers.data.builtin import load_builtin
from workers.models.artifacts import load_model
from workers.models.kinds import build_torch
from workers.nas.config import validate_nas_config
from workers.nas.engine import NasError, prepare, resolve_device, run_nas
from workers.reporter import MemoryReporter

CELL = {"name": "cell", "cells": 2, "nodes": 2, "channels": 4}


def config(kind="image", **raw):
    raw.setdefault("proxy", {"epochs": 1, "subset": 0.3})
    raw.setdefault("retrain", {"epochs": 2})
    return validate_nas_config(raw, kind)


@pytest.mark.parametrize(
    "strategy, space",
    [
        ({"name": "darts", "epochs": 1, "order": 2, "batch_size": 128}, CELL),
        ({"name": "random", "candidates": 2}, {"name": "macro", "widths": [4, 8]}),
    ],
    ids=["darts-cell", "random-macro"],
)
def test_the_found_architecture_rebuilds_from_its_json_and_gives_the_stored_accuracy(
    tmp_path, strategy, space
):
    digits = load_builtin("digits")
    cfg = config(strategy=strategy, space=space)
    result = run_nas(cfg, digits, MemoryReporter(), directory=tmp_path, device="cpu")

    # The weights, the spec that rebuilds them, and the drift reference serving reads.
    assert result["retrain"]["files"] == ["weights.safetensors", "spec.json", "reference.json"]
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert spec["kind"] == "genotype" and spec["config"]["genotype"] == result["genotype"]
    # Nothing but the JSON spec rebuilds the network ...
    assert sum(p.numel() for p in build_torch(spec).parameters()) == result["retrain"]["params"]
    # ... and the saved model scores the test rows exactly as stored.
    prepared = prepare(cfg, digits)
    model = load_model(tmp_path)
    truth = np.asarray(prepared.classes)[prepared.y["test"]]
    accuracy = float(np.mean(model.predict(prepared.raw_test) == truth))
    assert accuracy == result["retrain"]["test_metrics"]["accuracy"]
    assert spec["test_metrics"] == result["retrain"]["test_metrics"]
    assert accuracy > 0.3  # learned something in two epochs (chance is 0.1)
    assert result["cost"]["params"] == result["retrain"]["params"]
    assert result["cost"]["latency_ms"] > 0 and result["cost"]["violations"] == []
    json.dumps(result)  # the job's result is stored as JSON


def test_a_search_on_an_uploaded_table_keeps_its_preprocessing(tmp_path):
    # A category, gaps and a string target: the network sees the preprocessed numbers,
    # and the version answers raw rows as they are stored (issue 18: NAS on an upload).
    from workers.data.preprocess import DEFAULTS
    from workers.data.tabular import TabularData
    from workers.models.artifacts import load_preprocessing, read_json

    rng = np.random.default_rng(0)
    n = 160
    size = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = [None if i % 11 == 0 else f"{v:.3f}" for i, v in enumerate(size)]
    X[:, 1] = color
    data = TabularData(
        X=X,
        y=(size + 1.5 * (color == "red") > 0.5).astype(np.int64),
        feature_names=["size", "color"],
        task="classification",
        target_name="label",
        column_kinds=["numeric", "categorical"],
        classes=["no", "yes"],
        preprocessing=DEFAULTS,
    )
    cfg = config(
        "tabular",
        strategy={"name": "random", "candidates": 1},
        space={"name": "mlp", "widths": [16], "max_layers": 1},
        proxy={"epochs": 2},
        retrain={"epochs": 20},
    )
    result = run_nas(cfg, data, MemoryReporter(), directory=tmp_path, device="cpu")

    assert "preprocessing.skops" in result["retrain"]["files"]
    spec = read_json(tmp_path / "spec.json")
    assert spec["features"] == ["size", "color"] and spec["class_labels"] == ["no", "yes"]
    prepared = prepare(cfg, data)
    rows = load_preprocessing(tmp_path).transform(prepared.raw_test)
    truth = np.asarray(prepared.classes)[prepared.y["test"]]
    accuracy = float(np.mean(load_model(tmp_path).predict(rows) == truth))
    assert accuracy == result["retrain"]["test_metrics"]["accuracy"] > 0.7


def test_darts_keeps_the_alpha_history_for_the_heatmap():
    cfg = config(strategy={"name": "darts", "epochs": 2, "batch_size": 128}, space=CELL)
    reporter = MemoryReporter()
    result = run_nas(cfg, load_builtin("digits"), reporter, device="cpu")
    history, axes = result["alpha_history"], result["alpha_axes"]
    # Each epoch's trial carries its α and axes as it finishes: a running job draws them.
    epochs = [t["params"]["alphas"] for t in reporter.finished]
    assert epochs == [{**h, **axes} for h in history]
    assert [h["epoch"] for h in history] == [0, 1]
    assert axes["ops"] == cfg.space.options.ops and axes["edges"] == [
        "0->2",
        "1->2",
        "0->3",
        "1->3",
        "2->3",
    ]
    for snapshot in history:
        for kind in ("normal", "reduce"):
            assert np.asarray(snapshot[kind]).shape == (5, 8)
    assert history[0]["normal"] != history[1]["normal"]
    assert result["notes"]["skips"] <= 2


def test_an_mlp_is_searched_on_a_table():
    wine = load_builtin("wine")
    cfg = config(
        "tabular",
        strategy={"name": "evolution", "population": 2, "sample_size": 1, "cycles": 1},
        proxy={"epochs": 3},
        retrain={"epochs": 20},
    )
    reporter = MemoryReporter()
    result = run_nas(cfg, wine, reporter, device="cpu")
    assert cfg.space.name == "mlp" and len(reporter.finished) == 3
    assert result["genotype"]["space"] == "mlp"
    assert result["retrain"]["test_metrics"]["accuracy"] > 0.8  # inputs are standardised


def test_darts_reports_the_cost_against_the_constraints():
    cfg = config(
        strategy={"name": "darts", "epochs": 1, "batch_size": 256},
        space=CELL,
        constraints={"max_params": 10},
    )
    result = run_nas(cfg, load_builtin("digits"), MemoryReporter(), device="cpu")
    assert result["cost"]["max_params"] == 10
    assert result["cost"]["violations"] and "max_params" in result["cost"]["violations"][0]


def test_no_trainable_candidate_is_an_error():
    cfg = config(
        strategy={"name": "random", "candidates": 1},
        space={"name": "macro"},
        constraints={"max_params": 1},
    )
    reporter = MemoryReporter()
    with pytest.raises(NasError, match="rejected"):
        run_nas(cfg, load_builtin("digits"), reporter, device="cpu")
    assert {t["state"] for t in reporter.finished} == {"pruned"}


def test_a_cancelled_job_is_not_retrained(tmp_path):
    cfg = config(strategy={"name": "random", "candidates": 5}, space={"name": "macro"})
    result = run_nas(
        cfg, load_builtin("digits"), MemoryReporter(stop_after=2), directory=tmp_path, device="cpu"
    )
    assert result["stopped"] and "retrain" not in result and not list(tmp_path.iterdir())


def test_a_timeout_ends_the_search_but_still_retrains():
    cfg = config(
        strategy={"name": "random", "candidates": 1000}, space={"name": "macro"}, timeout_s=0.5
    )
    reporter = MemoryReporter()
    result = run_nas(cfg, load_builtin("digits"), reporter, device="cpu")
    assert result["timed_out"] and not result["stopped"]
    assert 1 <= len(reporter.finished) < 1000 and "retrain" in result


def test_images_stored_as_n_x_h_x_w_are_searched_too():
    digits = load_builtin("digits")
    digits.X = digits.X.reshape(-1, 8, 8)
    cfg = config(strategy={"name": "random", "candidates": 1}, space={"name": "macro"})
    result = run_nas(cfg, digits, MemoryReporter(), device="cpu")
    assert result["genotype"]["space"] == "macro" and result["retrain"]["params"] > 0


def test_the_device_is_cuda_only_when_present():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_trainer_options_reach_the_candidates_and_the_retrain(monkeypatch):
    from workers.nas import engine

    seen = []
    train = engine.train_classifier

    def spy(*args, options=None, **kwargs):
        seen.append(options)
        return train(*args, options=options, **kwargs)

    monkeypatch.setattr(engine, "train_classifier", spy)
    cfg = config(
        "tabular",
        strategy={"name": "random", "candidates": 2},
        proxy={"epochs": 2},
        retrain={"epochs": 15},
        trainer={"amp": True, "accumulation_steps": 2, "clip_norm": 1.0, "stages": 2},
    )
    result = run_nas(cfg, load_builtin("wine"), MemoryReporter(), device="cpu")
    assert len(seen) == 3  # two candidates and the retrain, each with the job's options
    # ... each network in two model-parallel stages (both on the CPU here)
    options = [(o.amp, o.accumulation_steps, o.clip_norm, o.stages) for o in seen]
    assert options == [(True, 2, 1.0, 2)] * 3
    assert result["retrain"]["test_metrics"]["accuracy"] > 0.8  # bf16 still learns

"""Pausing NAS and compression engines and running them on from their trials and checkpoints,
in one process (the platform's pause and a resume on another worker: jobs_tests and e2e)."""

import dataclasses
import json
from pathlib import Path

import torch

from tests.support.factories import FEATURES, iris_xy, mlp_dir
from workers.checkpoint import Checkpoint
from workers.compression.config import validate_compression_config
from workers.compression.engine import CHECKPOINT as CHAIN
from workers.compression.engine import run_compression
from workers.data.builtin import load_builtin
from workers.data.tabular import TabularData
from workers.nas.config import validate_nas_config
from workers.nas.engine import candidate_from_trial, run_nas
from workers.nas.strategies.darts import CHECKPOINT as DARTS
from workers.reporter import MemoryReporter, Reporter

CELL = {"name": "cell", "cells": 2, "nodes": 2, "channels": 4}


def darts_config(epochs: int = 4):
    raw = {
        "strategy": {"name": "darts", "epochs": epochs, "batch_size": 128},
        "space": CELL,
        "retrain": {"epochs": 1},
    }
    return validate_nas_config(raw, "image")


def few_digits() -> TabularData:
    """300 of the digits: enough for a supernet to learn, quick on a busy machine."""
    digits = load_builtin("digits")
    return dataclasses.replace(digits, X=digits.X[:300], y=digits.y[:300])


def history_of(*reporters: MemoryReporter) -> list:
    """The trials stored so far, as the platform reads them back from its Trial rows."""
    return [
        candidate_from_trial(t["number"], t["state"], t["params"], t["values"])
        for reporter in reporters
        for t in reporter.finished
    ]


def test_a_checkpoint_is_plain_data_written_whole(tmp_path):
    checkpoint = Checkpoint(tmp_path / "c.pt")
    assert checkpoint.load() is None
    checkpoint.save({"epoch": 3, "w": torch.ones(2), "text": "[1, 2]"})
    saved = checkpoint.load()  # torch.load(weights_only=True): no pickled objects
    assert saved["epoch"] == 3 and torch.equal(saved["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no partial file left
    checkpoint.clear()
    assert checkpoint.load() is None


def test_a_paused_darts_search_resumes_at_the_epoch_after_its_checkpoint(tmp_path):
    digits = few_digits()
    first = MemoryReporter(pause_after=2)  # the pause is seen once two epochs are stored
    paused = run_nas(darts_config(), digits, first, device="cpu", checkpoint_dir=tmp_path)
    assert paused == {"paused": True, "n_complete": 2}
    assert [t["number"] for t in first.finished] == [0, 1]
    assert (tmp_path / DARTS).exists()

    second = MemoryReporter()
    resumed = run_nas(
        darts_config(),
        digits,
        second,
        device="cpu",
        history=history_of(first),
        checkpoint_dir=tmp_path,
    )
    # The resumed run trained epochs 2 and 3 only, numbered on from the first run's.
    assert [t["number"] for t in second.finished] == [2, 3]
    assert resumed["notes"]["resumed_at_epochs"] == [2]
    assert [h["epoch"] for h in resumed["alpha_history"]] == [0, 1, 2, 3]
    assert resumed["best"]["number"] == 3 and resumed["n_complete"] == 4
    assert resumed["retrain"]["test_metrics"]["accuracy"] > 0

    # Weights, α, optimizers, schedule and RNG all came back: the epochs after the pause
    # are those of a search that never paused.
    straight = MemoryReporter()
    whole = run_nas(darts_config(), digits, straight, device="cpu")
    assert resumed["alpha_history"] == whole["alpha_history"]
    assert [t["values"] for t in second.finished] == [t["values"] for t in straight.finished[2:]]


def test_a_checkpoint_of_other_options_is_not_resumed_from(tmp_path):
    digits = few_digits()
    run_nas(darts_config(3), digits, MemoryReporter(pause_after=1), checkpoint_dir=tmp_path)
    reporter = MemoryReporter()
    result = run_nas(darts_config(2), digits, reporter, device="cpu", checkpoint_dir=tmp_path)
    assert result["notes"]["resumed_at_epochs"] == []
    assert len(result["alpha_history"]) == 2


def test_a_sampling_search_pauses_between_candidates_and_goes_on_from_its_trials():
    config = validate_nas_config(
        {
            "strategy": {"name": "random", "candidates": 3},
            "space": {"name": "mlp"},
            "proxy": {"epochs": 1},
            "retrain": {"epochs": 1},
        },
        "tabular",
    )
    iris = load_builtin("iris")
    first = MemoryReporter(pause_after=1)
    assert run_nas(config, iris, first, device="cpu")["paused"] is True
    assert len(first.finished) == 1
    second = MemoryReporter()
    result = run_nas(config, iris, second, device="cpu", history=history_of(first))
    assert [t["number"] for t in second.finished] == [1, 2]
    assert result["n_complete"] == 3


class PauseAfterSteps(Reporter):
    """Asks for a pause once `n` steps are done (progress is reported after each)."""

    def __init__(self, n: int | None) -> None:
        self.n, self.done = n, 0

    def progress(self, fraction: float) -> None:
        self.done += 1

    def should_pause(self) -> bool:
        return self.n is not None and self.done >= self.n


def test_a_paused_compression_chain_keeps_its_finished_steps(tmp_path):
    X, y = iris_xy()
    data = TabularData(X, y, FEATURES, "classification", "species", classes=[0, 1, 2])
    parent = mlp_dir(tmp_path / "parent")
    config = validate_compression_config(
        {
            "model_version": 1,
            "report": {"repeats": 1},
            "steps": [{"technique": "prune_magnitude", "sparsity": 0.3}, "dynamic_int8"],
        }
    )
    seen: list[int] = []

    def run(reporter):
        return run_compression(
            config,
            parent,
            data,
            reporter,
            directory=tmp_path / "job",
            on_step=lambda i, step: seen.append(i),
            checkpoint_dir=tmp_path / "checkpoint",
        )

    paused = run(PauseAfterSteps(1))
    assert paused["paused"] is True and len(paused["steps"]) == 1 and seen == [0]
    saved = Checkpoint(tmp_path / "checkpoint" / CHAIN).load()
    assert json.loads(saved["result"])["steps"][0]["technique"] == "prune_magnitude"

    result = run(PauseAfterSteps(None))
    # The first step was not run again: it is passed on once more (registration is
    # idempotent), in case its worker died before registering it.
    assert seen == [0, 0, 1]
    assert [s["technique"] for s in result["steps"]] == ["prune_magnitude", "dynamic_int8"]
    assert result["steps"][0] == paused["steps"][0] and result["original"] == paused["original"]
    # The second step started from the first's model: its chain names both.
    spec = json.loads((Path(result["steps"][1]["directory"]) / "spec.json").read_text())
    assert [s["technique"] for s in spec["compression_chain"]] == [
        "prune_magnitude",
        "dynamic_int8",
    ]


def test_nas_trials_keep_what_they_printed_and_their_failure_class(monkeypatch):
    from workers.nas import engine
    from workers.nas.darts import Architect

    real_train, real_step = engine.train_classifier, Architect.step
    calls = []

    def train(module, *args, **kwargs):
        calls.append(len(calls))
        print(f"candidate {len(calls)} token=abcdefgh1234")
        if len(calls) == 2:
            raise MemoryError("no room")
        return real_train(module, *args, **kwargs)

    monkeypatch.setattr(engine, "train_classifier", train)
    config = validate_nas_config(
        {"strategy": {"name": "random", "candidates": 2}, "space": {"name": "mlp"}}, "tabular"
    )
    reporter = MemoryReporter()
    run_nas(config, load_builtin("iris"), reporter, device="cpu")
    first, failed = reporter.records[0], reporter.records[1]
    assert "candidate 1 token=[redacted]" in first.log and "abcdefgh1234" not in first.log
    assert first.failure_class == ""
    assert failed.failure_class == "oom" and "MemoryError: no room" in failed.log

    def step(self, *args, **kwargs):
        print("an architect step")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(Architect, "step", step)
    reporter = MemoryReporter()
    run_nas(darts_config(2), few_digits(), reporter, device="cpu")
    assert all("an architect step" in reporter.records[n].log for n in (0, 1))  # per epoch

"""The compression engine: run a chain of steps on one model and report on each.

run_compression takes plain data (the input model's directory, the job's rows, the
normalised config) and a reporter; the Celery task registers what it saves. Each step starts
from the previous step's model; every report is also given relative to the original.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Protocol

import torch

from workers.checkpoint import at
from workers.compression.common import CompressionError, split
from workers.compression.config import CompressionConfig
from workers.compression.report import measure, relative
from workers.compression.store import load_compressed, save_compressed
from workers.compression.techniques import TECHNIQUES, Context
from workers.data.tabular import TabularData
from workers.models.artifacts import inherit, load_preprocessing, read_json
from workers.models.kinds import refusal, technique_refusal
from workers.models.layout import SPEC_FILE
from workers.training.measure import resolve_device
from workers.training.stopping import Cancelled, StopCheck

CHECKPOINT = "compression.pt"


class Reporter(Protocol):
    def progress(self, fraction: float) -> None: ...
    def should_stop(self) -> bool: ...
    def should_pause(self) -> bool: ...


def run_compression(
    config: CompressionConfig,
    model_dir: Path,
    data: TabularData,
    reporter: Reporter,
    *,
    directory: Path,
    teachers: dict[int, Path] | None = None,
    on_step=None,
    device: str = "cpu",
    checkpoint_dir: Path | None = None,
) -> dict:
    """Run config.steps in order from the model in model_dir.

    A pause (reporter.should_pause) is taken between steps: the result then has
    "paused": True. With a checkpoint_dir, the chain so far is checkpointed after each
    step (its model is already saved under step-<i>): run again, it starts at the first
    step not done, from that step's input model, and keeps the finished steps' results.

    Args:
        config: checked by validate_compression_config.
        model_dir: the input model version's files.
        data: the job's rows.
        reporter: progress and cancellation.
        directory: step i's model is saved under directory / f"step-{i}".
        teachers: extra teachers' directories by model version id.
        on_step: called with (index, step result) after each step is saved and
            checkpointed, and again for each step a resumed run finds in its checkpoint:
            it must act once per index (registration looks its step's version up).
        device: where fine-tuning, distillation and QAT train ("auto", "cpu", "cuda");
            the models are measured and saved on the CPU.
        checkpoint_dir: where the chain's checkpoint is kept (None: nowhere).

    Returns:
        {"original": report, "steps": [{"technique", "config", "report", "relative",
        "notes", "directory", "seconds"} (+ "flagged": why)], "stopped": bool,
        "flagged": [indices of the steps that lost more than the tolerance],
        "gated": whether a flagged step stopped the chain}.
    """
    torch.manual_seed(config.seed)
    if (reason := refusal(read_json(Path(model_dir) / SPEC_FILE), "compress")) is not None:
        raise CompressionError(reason)
    model = load_compressed(model_dir)
    transformer = load_preprocessing(model_dir)  # every step inherits the parent's
    splits = split(config, data, model.spec, transformer)
    x_test, y_test = splits.x["test"], splits.y["test"]
    repeats = config.report.repeats
    checkpoint = at(checkpoint_dir, CHECKPOINT)
    key = json.dumps(config.to_json(), sort_keys=True)
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None and saved["key"] == key:
        result = json.loads(saved["result"])  # the steps done, against the same original
        model = load_compressed(Path(result["steps"][-1]["directory"]))
        for i, entry in enumerate(result["steps"]):
            if on_step is not None:  # each once per job: registers only what was not
                on_step(i, entry)
    else:
        result = {
            "original": measure(model, x_test, y_test, repeats=repeats, directory=Path(model_dir)),
            "steps": [],
            "stopped": False,
            "flagged": [],
            "gated": False,
        }
    original = result["original"]
    loaded = {tid: load_compressed(path) for tid, path in (teachers or {}).items()}
    tolerance = config.tolerance
    for i, typed in enumerate(config.steps):
        if i < len(result["steps"]):
            continue  # done by an earlier run of this job
        step = typed.to_json()  # what the chain records
        if reporter.should_stop():
            result["stopped"] = True
            break
        if reporter.should_pause():
            return {**result, "paused": True}
        started = time.monotonic()
        if (reason := technique_refusal(model.described, step["technique"])) is not None:
            raise CompressionError(f"step {i + 1} ({step['technique']}): {reason}")
        ctx = Context(
            splits,
            config.finetune,
            config.seed + i,
            loaded,
            device=resolve_device(device),
            stop=StopCheck(reporter.should_stop),
        )
        try:
            model = TECHNIQUES[typed.technique].apply(model, typed.options, ctx)
        except Cancelled:  # inside the step's training: its model is not kept
            result["stopped"] = True
            break
        out = Path(directory) / f"step-{i}"
        report = measure(model, x_test, y_test, repeats=repeats)
        chain = [*model.spec.get("compression_chain", []), step]
        save_compressed(
            model,
            out,
            family=f"compressed-{model.spec.get('kind', 'torch')}",
            extra={"compression_chain": chain, "test_metrics": {"accuracy": report["accuracy"]}},
        )
        inherit(model_dir, out)  # its preprocessing and drift reference are the parent's
        model.spec["compression_chain"] = chain
        report["file_bytes"] = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
        entry = {
            "technique": step["technique"],
            "config": step,
            "report": report,
            "relative": relative(report, original),
            "notes": ctx.notes,
            "directory": str(out),
            "seconds": round(time.monotonic() - started, 3),
        }
        lost = original["accuracy"] - report["accuracy"]
        if lost > tolerance:
            entry["flagged"] = (
                f"loses {lost:.3f} accuracy against the original "
                f"({original['accuracy']:.3f} -> {report['accuracy']:.3f}), "
                f"more than the chain's tolerance of {tolerance}"
            )
            result["flagged"].append(i)
        result["steps"].append(entry)
        if checkpoint is not None:
            # The results as JSON text: what they hold need not be a type torch loads.
            checkpoint.save({"key": key, "result": json.dumps(result)})
        # Registered after the checkpoint: a worker dying in between leaves a step done
        # but not registered, which the next run registers (below) instead of running
        # it again over the directory a registered version was made from.
        if on_step is not None:
            on_step(i, entry)
        reporter.progress((i + 1) / len(config.steps))
        if "flagged" in entry and config.gate:
            result["gated"] = True
            break
    return result

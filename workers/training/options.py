"""Trainer options: what a job config's "trainer" object may say, checked without torch
(the web process validates configs and must not import it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DEVICES = ("auto", "cpu", "cuda")
# Upper bounds: accumulation costs time only; each process holds a copy of the model and
# its data (8 processes of a small MLP already took 3.3 GB), and a worker has few cores.
MAX_ACCUMULATION_STEPS = 64
MAX_PROCESSES = 8
# Model-parallel stages, one GPU each: a node has at most 8 GPUs in the common case (DGX,
# p4d, a2-highgpu-8g), and the stages of one trial live in one process on one machine.
MAX_STAGES = 8


@dataclass(frozen=True)
class TrainerOptions:
    """How a model trains, independent of what it trains on.

    device: "auto" takes CUDA when the process sees a GPU, else the CPU.
    amp: mixed precision; fp16 with a gradient scaler on CUDA, bf16 autocast on the CPU
        (bf16 keeps fp32's exponent range, so it needs no scaler).
    accumulation_steps: k micro-batches of batch_size per optimizer step (effective batch
        k * batch_size), for batches that do not fit in memory at once.
    clip_norm: clip the global gradient norm to this value before each step; None: no clip.
    processes: data-parallel processes for one trial (DistributedDataParallel).
    stages: model parallel: the network's blocks split into this many consecutive stages,
        one device each (workers/training/pipeline.py): on CUDA the first `stages` GPUs
        of the trial, on the CPU every stage on the CPU. One of stages and processes.
    """

    device: str = "cpu"
    amp: bool = False
    accumulation_steps: int = 1
    clip_norm: float | None = None
    processes: int = 1
    stages: int = 1

    def __post_init__(self) -> None:
        problems = option_errors(asdict(self))
        if problems:
            raise ValueError("; ".join(f"{k}: {v}" for k, v in problems.items()))

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainerOptions:
        """Options from a job config's "trainer" object; unknown keys are refused."""
        data = dict(data or {})
        problems = option_errors(data)
        if problems:
            raise ValueError("; ".join(f"{k}: {v}" for k, v in problems.items()))
        return cls(**data)


def option_errors(data: Any) -> dict[str, str]:
    """Field -> message for every bad trainer option (empty when the options are valid).

    Kept free of torch state so that config validation in the web process can call it.
    """
    if not isinstance(data, dict):
        return {"trainer": "must be an object"}
    known = {f.name for f in fields(TrainerOptions)}
    errors = {
        key: f"unknown option; expected one of {sorted(known)}" for key in data if key not in known
    }
    if "device" in data and data["device"] not in DEVICES:
        errors["device"] = f"must be one of {list(DEVICES)}"
    if "amp" in data and not isinstance(data["amp"], bool):
        errors["amp"] = "must be true or false"
    for key, most in (
        ("accumulation_steps", MAX_ACCUMULATION_STEPS),
        ("processes", MAX_PROCESSES),
        ("stages", MAX_STAGES),
    ):
        value = data.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            errors[key] = f"must be an integer from 1 to {most}"
    if "processes" not in errors and "stages" not in errors:
        if data.get("processes", 1) > 1 and data.get("stages", 1) > 1:
            errors["stages"] = (
                "a trial is either data parallel (processes) or model parallel (stages); "
                "set one of them to 1"
            )
    clip = data.get("clip_norm")
    if clip is not None and (
        isinstance(clip, bool) or not isinstance(clip, int | float) or not clip > 0
    ):
        errors["clip_norm"] = "must be a positive number or null"
    return errors

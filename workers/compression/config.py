"""Validation and normalisation of compression job configs: the one place these rules live.

A config is a chain of steps run in order on one registered model version; each step starts
from the previous step's model:

    {"model_version": 12,
     "steps": [{"technique": "prune_structured", "ratio": 0.5, "finetune_epochs": 2},
               {"technique": "distill", "mode": "response", "student": {"shrink": 0.5}},
               {"technique": "dynamic_int8"}],
     "test_size": 0.2, "valid_size": 0.25, "seed": 0,
     "finetune": {"lr": 0.001, "batch_size": 64}, "report": {"repeats": 10},
     "tolerance": 0.02, "gate": false}

A step that loses more accuracy than `tolerance` against the original model is flagged on
the job's result; with `gate` it also stops the chain there.

Each technique's options and defaults are in its Options dataclass, STEP_OPTIONS names
them by technique (the README lists them).
Nothing here imports torch, so the web process validates without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers import config as shared
from workers.config import ConfigError, Errors, TypedConfig, default
from workers.hpo.options import (
    Option,
    Options,
    boolean,
    integer,
    is_int,
    is_number,
    number,
    one_of,
    option,
)

OBSERVERS = ("minmax", "moving_average", "histogram")
SCHEDULES = ("linear", "cubic")

# Options several techniques share, declared once.
FINETUNE_EPOCHS = integer(1, 0, 100)
SCHEDULE_STEPS, SCHEDULE = integer(1, 1, 20), one_of("linear", *SCHEDULES)
PER_CHANNEL, SYMMETRIC = boolean(True), boolean(True)
SCHEME = one_of("linear", "linear", "log2")


def _student(v: object) -> bool:
    if not isinstance(v, dict) or len(v) != 1:
        return False
    if "shrink" in v:
        return is_number(v["shrink"]) and 0.05 <= v["shrink"] <= 1.0
    return isinstance(v.get("config"), dict)


def _teachers(v: object) -> bool:
    return isinstance(v, list) and len(v) <= 8 and all(is_int(t) and t >= 1 for t in v)


@dataclass(frozen=True)
class PruneMagnitudeOptions(Options):
    sparsity: float = option(number(0.5, 0.0, 0.99))
    scope: str = option(one_of("global", "global", "layer"))
    sensitivity: bool = option(boolean(False))  # per-layer ratios from a sensitivity pass
    steps: int = option(SCHEDULE_STEPS)
    schedule: str = option(SCHEDULE)
    finetune_epochs: int = option(FINETUNE_EPOCHS)


@dataclass(frozen=True)
class PruneStructuredOptions(Options):
    ratio: float = option(number(0.5, 0.0, 0.95))
    steps: int = option(SCHEDULE_STEPS)
    schedule: str = option(SCHEDULE)
    finetune_epochs: int = option(FINETUNE_EPOCHS)


@dataclass(frozen=True)
class DistillOptions(Options):
    mode: str = option(one_of("response", "response", "feature", "relation"))
    temperature: float = option(number(4.0, 0.1, 100.0))
    alpha: float = option(number(0.5, 0.0, 1.0))  # weight of the teacher's loss vs the labels
    student: dict = option(
        Option({"shrink": 0.5}, _student, '{"shrink": factor from 0.05 to 1} or {"config": {...}}')
    )
    teachers: list[int] = option(Option([], _teachers, "a list of up to 8 model version ids"))
    epochs: int = option(integer(10, 1, 500))
    lr: float = option(number(0.003, 1e-5, 1.0))
    batch_size: int = option(integer(64, 1, 4096))


@dataclass(frozen=True)
class StaticInt8Options(Options):
    observer: str = option(one_of("histogram", *OBSERVERS))
    per_channel: bool = option(PER_CHANNEL)
    calibration_rows: int = option(integer(256, 1, 100_000))


@dataclass(frozen=True)
class QATOptions(Options):
    epochs: int = option(integer(2, 1, 100))
    lr: float = option(number(0.0005, 1e-6, 1.0))
    per_channel: bool = option(PER_CHANNEL)


@dataclass(frozen=True)
class HalfOptions(Options):
    dtype: str = option(one_of("float16", "float16", "bfloat16"))


@dataclass(frozen=True)
class WeightOnlyOptions(Options):
    scheme: str = option(SCHEME)
    bits: int = option(integer(8, 2, 8))
    symmetric: bool = option(SYMMETRIC)
    per_channel: bool = option(PER_CHANNEL)


@dataclass(frozen=True)
class MixedOptions(Options):
    bits: int = option(integer(4, 2, 8))
    scheme: str = option(SCHEME)
    keep_float: float = option(number(0.25, 0.0, 1.0))  # share of layers, the most sensitive
    symmetric: bool = option(SYMMETRIC)
    per_channel: bool = option(PER_CHANNEL)


# technique -> its options (defaults filled in at submission)
STEP_OPTIONS: dict[str, type[Options]] = {
    "prune_magnitude": PruneMagnitudeOptions,
    "prune_structured": PruneStructuredOptions,
    "distill": DistillOptions,
    "dynamic_int8": Options,
    "static_int8": StaticInt8Options,
    "qat": QATOptions,
    "half": HalfOptions,
    "weight_only": WeightOnlyOptions,
    "mixed": MixedOptions,
}
# technique -> option -> its declaration (default, check): what forms and docs read
TECHNIQUE_OPTIONS: dict[str, dict[str, Option]] = {
    name: options.declared() for name, options in STEP_OPTIONS.items()
}
MAX_STEPS = 10


@dataclass(frozen=True)
class Step:
    """One step of the chain: a technique and its options (STEP_OPTIONS, filled in)."""

    technique: str
    options: Options = Options()

    def to_json(self) -> dict:
        return {"technique": self.technique, **self.options.to_json()}

    @classmethod
    def json_schema(cls) -> dict:
        names = {"type": "string", "enum": list(TECHNIQUE_OPTIONS)}
        options = {
            "type": "object",
            "properties": {"technique": names},
            "required": ["technique"],
            "additionalProperties": True,
            "description": "a technique and its options (the README lists them)",
        }
        return {"oneOf": [names, options]}


@dataclass(frozen=True)
class Finetune(Options):
    """The optimizer of the fine-tuning after pruning (Adam)."""

    lr: float = option(number(0.001, 1e-6, 1.0))
    batch_size: int = option(integer(64, 1, 4096))
    weight_decay: float = option(number(0.0, 0.0, 1.0))


@dataclass(frozen=True)
class Report(Options):
    repeats: int = option(integer(10, 1, 1000))  # timed runs per latency measurement


@dataclass(frozen=True)
class CompressionConfig(TypedConfig):
    """A checked compression config (the module docstring shows one)."""

    model_version: int
    steps: list[Step]
    test_size: float = 0.2
    valid_size: float = 0.25
    seed: int = 0
    finetune: Finetune = Finetune()
    report: Report = Report()
    # Accuracy a step may lose against the original model before it is flagged (a fraction).
    tolerance: float = 0.02
    gate: bool = False
    parallelism: int = 1  # the platform stores it on every job; a chain runs on one worker

    @property
    def teacher_ids(self) -> list[int]:
        """Every extra teacher's model version id named by the steps."""
        return sorted({t for s in self.steps for t in getattr(s.options, "teachers", [])})

    @classmethod
    def from_json(cls, data: object) -> CompressionConfig:
        return validate_compression_config(data)


TOP_KEYS = tuple(CompressionConfig.__dataclass_fields__)

__all__ = [
    "STEP_OPTIONS",
    "TECHNIQUE_OPTIONS",
    "CompressionConfig",
    "ConfigError",
    "validate_compression_config",
]


def validate_compression_config(
    config: object, *, task: str = "classification"
) -> CompressionConfig:
    """Check a compression config; return it typed, every default filled in.

    Args:
        config: the user's config.
        task: the data set's task; compression scores classifiers (accuracy).

    Raises:
        ConfigError: maps field paths (``steps.0.ratio``) to messages.
    """
    if not isinstance(config, dict):
        raise ConfigError({"": "config must be a JSON object"})
    err = Errors()
    err.unknown_keys(config, TOP_KEYS, "")
    if task != "classification":
        err.add("", f"compression needs a classification data set, not {task}")
    version = config.get("model_version")
    if not (is_int(version) and version >= 1):
        err.add("model_version", "must be the id of one of your model versions")
    steps = config.get("steps")
    typed_steps: list[Step] = []
    if not (isinstance(steps, list) and 1 <= len(steps) <= MAX_STEPS):
        err.add("steps", f"must be a list of 1 to {MAX_STEPS} steps")
        steps = []
    names = ", ".join(TECHNIQUE_OPTIONS)
    for i, step in enumerate(steps):
        path = f"steps.{i}"
        if isinstance(step, str):
            step = {"technique": step}
        technique = step.get("technique") if isinstance(step, dict) else None
        if not isinstance(technique, str) or technique not in TECHNIQUE_OPTIONS:
            err.add(f"{path}.technique", f"must be one of {names}")
            continue
        name = step["technique"]
        rest = {k: v for k, v in step.items() if k != "technique"}
        typed_steps.append(Step(name, STEP_OPTIONS[name].parse(rest, path, err.add)))

    def given(key: str) -> Any:
        return config.get(key, default(CompressionConfig, key))

    tolerance, gate = given("tolerance"), given("gate")
    if not (is_number(tolerance) and 0 <= tolerance <= 1):
        err.add("tolerance", "must be an accuracy drop from 0 to 1")
    if not isinstance(gate, bool):
        err.add("gate", "must be true or false")
    typed = CompressionConfig(
        model_version=version,
        steps=typed_steps,
        test_size=shared.fraction(given("test_size"), "test_size", err),
        valid_size=shared.fraction(given("valid_size"), "valid_size", err),
        seed=shared.seed(given("seed"), "seed", err),
        finetune=shared.section(config, "finetune", Finetune, err),
        report=shared.section(config, "report", Report, err),
        tolerance=tolerance,
        gate=gate,
        parallelism=shared.parallelism(given("parallelism"), "parallelism", err, most=1),
    )
    if err:
        raise ConfigError(err)
    return typed

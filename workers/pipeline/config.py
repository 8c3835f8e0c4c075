"""Validation of pipeline job configs: ordered stages that take one model from a search (or
a registered version) through compression, a gate, the registry and a deployment.

    {"stages": [
        {"type": "search", "kind": "hpo", "config": {...an HPO job's config...}},
        {"type": "compression", "config": {"steps": ["dynamic_int8"]}},
        {"type": "gate", "conditions": [
            {"check": "metric", "metric": "accuracy", "min": 0.9},
            {"check": "drop", "metric": "accuracy", "max": 0.02},
            {"check": "size", "max_bytes": 200000},
            {"check": "latency", "batch_size": 64, "max_ms": 20}]},
        {"type": "register", "name": "iris-mlp", "stage": "staging", "alias": "challenger"},
        {"type": "deploy", "deployment": "iris", "share": 0.1}]}

A re-tune (automl.monitoring.retune) ends with a challenge instead of a deploy:
        {"type": "challenge", "deployment": "iris", "significance": 0.05}
compares the model with the deployment's champion on its labelled recent traffic (a paired
test) and stops the pipeline when it does not win. `deployment` (the id) makes each stage's
outcome an entry of that deployment's activity log.

The stage that starts the chain is a search, or `model_version` names one of the owner's
versions. Each later stage acts on the model the one before produced: compression on the
search's model, the gate on the compressed one, and so on. The search and compression
stages run as child jobs whose own configs the platform validates with their kinds'
validators (this module sees them as objects); everything else is checked here.
Nothing here imports torch or Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workers.config import ConfigError, Errors, TypedConfig
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

MAX_STAGES = 10
MAX_CONDITIONS = 10
SEARCH_KINDS = ("hpo", "nas")
REGISTRY_STAGES = ("staging", "production")
_SLUG = "1-50 lower-case letters, digits, '-' or '_', starting with a letter"


def _slug(v: object) -> bool:
    import re

    return isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_-]{0,49}", v) is not None


def _config(v: object) -> bool:
    return isinstance(v, dict)


def _metric(v: object) -> bool:
    return isinstance(v, str) and 0 < len(v) <= 50


def _bound(v: object) -> bool:
    return v is None or is_number(v)


BOUND = "a number, or null"

# Each check's options; `Condition.says` words what it demands.


@dataclass(frozen=True)
class MetricCheck(Options):
    """The held-out metric of the model (as the registry holds it): between min and max."""

    metric: str = option(Option("accuracy", _metric, "a metric name"))
    min: float | None = option(Option(None, _bound, BOUND))
    max: float | None = option(Option(None, _bound, BOUND))


@dataclass(frozen=True)
class DropCheck(Options):
    """How much of the metric the model lost against the model it was compressed from
    (parent minus it, for a metric where higher is better): at most max."""

    metric: str = option(Option("accuracy", _metric, "a metric name"))
    max: float = option(number(0.02, 0.0, 1e12))


@dataclass(frozen=True)
class SizeCheck(Options):
    """Its files' bytes."""

    max_bytes: int = option(integer(None, 1))

    def check(self, add: Callable[[str, str], None]) -> None:
        if self.max_bytes is None:
            add("max_bytes", "required")


@dataclass(frozen=True)
class LatencyCheck(Options):
    """The median milliseconds of one predict call of batch_size rows, measured at the
    gate."""

    batch_size: int = option(integer(1, 1, 4096))
    max_ms: float = option(number(None, 0.0, 1e7))

    def check(self, add: Callable[[str, str], None]) -> None:
        if self.max_ms is None:
            add("max_ms", "required")


CHECK_OPTIONS: dict[str, type[Options]] = {
    "metric": MetricCheck,
    "drop": DropCheck,
    "size": SizeCheck,
    "latency": LatencyCheck,
}


@dataclass(frozen=True)
class SearchStage(Options):
    kind: str = option(one_of("hpo", *SEARCH_KINDS))
    config: dict = option(Option(None, _config, "an object: the search job's config"))


@dataclass(frozen=True)
class CompressionStage(Options):
    config: dict = option(
        Option(
            None,
            _config,
            "an object: a compression job's config without "
            "model_version (the previous stage's model is compressed)",
        )
    )

    def check(self, add: Callable[[str, str], None]) -> None:
        if isinstance(self.config, dict) and "model_version" in self.config:
            add(
                "config.model_version",
                "leave it out: the stage compresses the previous stage's model",
            )


@dataclass(frozen=True)
class GateStage(Options):
    """No options: its conditions are checked apart (a list of checks)."""


@dataclass(frozen=True)
class RegisterStage(Options):
    name: str | None = option(Option(None, lambda v: v is None or _slug(v), f"null or {_SLUG}"))
    stage: str | None = option(
        Option(
            None,
            lambda v: v is None or v in REGISTRY_STAGES,
            f"null or one of {', '.join(REGISTRY_STAGES)}",
        )
    )
    alias: str | None = option(Option(None, lambda v: v is None or _slug(v), f"null or {_SLUG}"))


@dataclass(frozen=True)
class DeployStage(Options):
    deployment: str = option(Option(None, _slug, _SLUG))
    # 1: all its traffic; less: a canary share beside the deployment's other versions.
    share: float = option(number(1.0, 0.001, 1.0))
    follows: str | None = option(Option(None, lambda v: v is None or _slug(v), f"null or {_SLUG}"))


@dataclass(frozen=True)
class ChallengeStage(Options):
    """The model against the deployment's champion, on the labelled rows of its last
    `hours` of traffic that a re-tune held out of its training (automl.monitoring.retune)."""

    deployment: str = option(Option(None, _slug, _SLUG))
    hours: float = option(number(24.0, 0.01, 24 * 366))
    min_rows: int = option(integer(20, 1, 1_000_000))
    significance: float = option(number(0.05, 0.0001, 0.5))
    # False: a challenger that is better at all wins, significant or not.
    require_significant: bool = option(boolean(True))


# stage type -> its options (besides `type`).
STAGE_OPTIONS: dict[str, type[Options]] = {
    "search": SearchStage,
    "compression": CompressionStage,
    "gate": GateStage,
    "register": RegisterStage,
    "deploy": DeployStage,
    "challenge": ChallengeStage,
}
CHILD_STAGES = ("search", "compression")  # run as child jobs


@dataclass(frozen=True)
class Condition:
    """One gate condition: a check and its options (filled in)."""

    check: str
    options: Options

    def to_json(self) -> dict:
        return {"check": self.check, **self.options.to_json()}

    def says(self) -> str:
        """What the condition demands, in words ('accuracy >= 0.9')."""
        o = self.options
        if self.check == "metric":
            parts = [f"{o.metric} >= {o.min:g}"] if o.min is not None else []
            parts += [f"{o.metric} <= {o.max:g}"] if o.max is not None else []
            return " and ".join(parts)
        if self.check == "drop":
            return f"{o.metric} drop from the parent <= {o.max:g}"
        if self.check == "size":
            return f"size <= {o.max_bytes} bytes"
        return f"latency at batch {o.batch_size} <= {o.max_ms:g} ms"


@dataclass(frozen=True)
class Stage:
    """One stage: its type, its options (STAGE_OPTIONS, filled in) and, for a gate, its
    conditions."""

    type: str
    options: Options
    conditions: tuple[Condition, ...] = ()

    @property
    def is_child_job(self) -> bool:
        return self.type in CHILD_STAGES

    def label(self) -> str:
        if self.type == "search":
            return f"search ({self.options.kind})"
        return self.type

    def to_json(self) -> dict:
        out = {"type": self.type, **self.options.to_json()}
        if self.type == "gate":
            out["conditions"] = [c.to_json() for c in self.conditions]
        return out

    @classmethod
    def json_schema(cls) -> dict:
        return {
            "type": "object",
            "properties": {"type": {"type": "string", "enum": list(STAGE_OPTIONS)}},
            "required": ["type"],
            "additionalProperties": True,
            "description": "a stage and its options (the README lists them)",
        }


@dataclass(frozen=True)
class PipelineConfig(TypedConfig):
    """A checked pipeline config (the module docstring shows one)."""

    stages: list[Stage]
    # The registered version the chain starts from, when it has no search stage.
    model_version: int | None = None
    # The deployment whose activity log records each stage's outcome (a re-tune's).
    deployment: int | None = None
    parallelism: int = 1  # the platform stores it on every job; stages run one at a time

    @property
    def search(self) -> Stage | None:
        return self.stages[0] if self.stages and self.stages[0].type == "search" else None

    @property
    def model_name(self) -> str | None:
        """The registry name a register stage asks for (the search registers under it)."""
        names = [s.options.name for s in self.stages if s.type == "register"]
        return next((n for n in names if n), None)

    @classmethod
    def from_json(cls, data: object) -> PipelineConfig:
        return validate_pipeline_config(data)


TOP_KEYS = tuple(PipelineConfig.__dataclass_fields__)


def _conditions(raw: object, path: str, err: Errors) -> tuple[Condition, ...]:
    if not (isinstance(raw, list) and 1 <= len(raw) <= MAX_CONDITIONS):
        err.add(path, f"must be a list of 1 to {MAX_CONDITIONS} conditions")
        return ()
    out = []
    for i, item in enumerate(raw):
        at = f"{path}.{i}"
        check = item.get("check") if isinstance(item, dict) else None
        if not isinstance(check, str) or check not in CHECK_OPTIONS:
            err.add(f"{at}.check", f"must be one of {', '.join(CHECK_OPTIONS)}")
            continue
        rest = {k: v for k, v in item.items() if k != "check"}
        options = CHECK_OPTIONS[check].parse(rest, at, err.add)
        if check == "metric" and options.min is None and options.max is None:
            err.add(at, "give min, max or both")
        out.append(Condition(check, options))
    return tuple(out)


def validate_pipeline_config(config: object) -> PipelineConfig:
    """Check a pipeline config; return it typed, every default filled in.

    Raises:
        ConfigError: maps field paths (``stages.2.conditions.0.min``) to messages.
    """
    if not isinstance(config, dict):
        raise ConfigError({"": "config must be a JSON object"})
    err = Errors()
    err.unknown_keys(config, TOP_KEYS, "")
    raw = config.get("stages")
    if not (isinstance(raw, list) and 1 <= len(raw) <= MAX_STAGES):
        err.add("stages", f"must be a list of 1 to {MAX_STAGES} stages")
        raw = []
    stages: list[Stage] = []
    for i, item in enumerate(raw):
        path = f"stages.{i}"
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in STAGE_OPTIONS:
            err.add(f"{path}.type", f"must be one of {', '.join(STAGE_OPTIONS)}")
            continue
        rest = {k: v for k, v in item.items() if k not in ("type", "conditions")}
        options = STAGE_OPTIONS[kind].parse(rest, path, err.add)
        conditions = ()
        if kind == "gate":
            conditions = _conditions(item.get("conditions"), f"{path}.conditions", err)
        elif "conditions" in item:
            err.add(f"{path}.conditions", "only a gate has conditions")
        if kind == "search" and i != 0:
            err.add(f"{path}.type", "a search can only be the first stage (it makes the model)")
        if kind == "register" and options.stage is None and options.alias is None:
            err.add(path, "give a stage, an alias or both")
        if kind == "gate" and any(c.check == "drop" for c in conditions):
            if not any(s.type == "compression" for s in stages):
                err.add(
                    f"{path}.conditions",
                    "a drop is measured against the model compressed from: put a "
                    "compression stage before this gate",
                )
        stages.append(Stage(kind, options, conditions))
    names = {s.options.name for s in stages if s.type == "register" and s.options.name}
    if len(names) > 1:
        err.add("stages", "the register stages name different models; name one")
    start = config.get("model_version")
    starts_with_search = bool(raw) and isinstance(raw[0], dict) and raw[0].get("type") == "search"
    if starts_with_search and start is not None:
        err.add("model_version", "leave it out: the search stage makes the model")
    elif not starts_with_search and not (is_int(start) and start >= 1):
        err.add(
            "model_version",
            "the id of one of your model versions to start from (or begin with a search stage)",
        )
    if names and not starts_with_search:
        err.add("stages", "a registered version keeps its name: name models in a search pipeline")
    deployment = config.get("deployment")
    if deployment is not None and not (is_int(deployment) and deployment >= 1):
        err.add("deployment", "the id of one of your deployments, or null")
    parallelism = config.get("parallelism", 1)
    if parallelism != 1:
        err.add("parallelism", "must be 1: a pipeline's stages take their own parallelism")
    if err:
        raise ConfigError(err)
    return PipelineConfig(stages=stages, model_version=start, deployment=deployment, parallelism=1)

"""Validation and normalisation of external job configs.

Keys, [default]:
- search_space (required): parameter name -> spec, as an HPO search space (float, int,
  categorical with conditional sub-spaces, fixed), with any parameter names;
- metric ["value"]: the name of what the user's code reports, or a list of up to three;
- direction (required): "maximize" or "minimize", or a list of them, one per metric;
- sampler [{"name": "tpe"}] and pruner [{"name": "none"}]: as for HPO (pruning needs one
  metric); sampler.seed [null: the job's seed];
- n_trials [20]: the trials the job waits for (complete, pruned or failed, as in HPO); a
  lost one is replaced; timeout_s [null]: after it no trial is handed out and the job
  closes once the running ones end;
- lost_after_s [60]: a running trial with no heartbeat (or report) for this long is failed
  as lost and a new one is handed out in its place;
- seed [0].

validate_external_config returns an ExternalConfig (frozen; its to_json() is what the Job
stores and ExternalConfig.from_json checks a stored one again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workers import config as shared
from workers.config import ConfigError, Errors, Named, TypedConfig, default
from workers.hpo.config import (
    DEFAULT_SAMPLER,
    MAX_OBJECTIVES,
    MAX_TRIALS,
    SamplerConfig,
    _pruner,
    _sampler,
    normalize_space,
)
from workers.hpo.options import is_int, is_number

DIRECTIONS = ("maximize", "minimize")
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,49}")
LOST_AFTER_S = (1, 24 * 3600)  # a heartbeat per second at most; a day at the longest


@dataclass(frozen=True)
class ExternalConfig(TypedConfig):
    """A checked external config (the module docstring lists each key)."""

    search_space: dict
    direction: str | list[str]
    metric: str | list[str] = "value"
    sampler: SamplerConfig = DEFAULT_SAMPLER
    pruner: Named = Named("none")
    n_trials: int = 20
    timeout_s: float | None = None
    lost_after_s: float = 60
    seed: int = 0
    parallelism: int = 1  # the platform stores it on every job; trials ask in, any number

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def directions(self) -> list[str]:
        return [self.direction] if isinstance(self.direction, str) else list(self.direction)

    @classmethod
    def from_json(cls, data: object) -> ExternalConfig:
        return validate_external_config(data)


KEYS = tuple(ExternalConfig.__dataclass_fields__)


def validate_external_config(config: object) -> ExternalConfig:
    """The config with every default filled in, or ConfigError naming each bad field."""
    if not isinstance(config, dict):
        raise ConfigError({"": "config must be a JSON object"})
    err = Errors()
    err.unknown_keys(config, KEYS, "")

    def given(key: str) -> Any:
        return config.get(key, default(ExternalConfig, key))

    metric = _metric(given("metric"), err)
    n_metrics = len(metric) if isinstance(metric, list) else 1
    direction = _direction(config.get("direction"), metric, err)
    space: dict = {}
    if "search_space" not in config:
        err.add("search_space", "required: the parameters your code is tuned over")
    else:
        try:
            space = normalize_space(config["search_space"], "search_space")
        except ConfigError as exc:
            for path, message in exc.errors.items():
                err.add(path, message)
        else:
            if not space:
                err.add("search_space", "must name at least one parameter")
    n_trials = given("n_trials")
    if not (is_int(n_trials) and 1 <= n_trials <= MAX_TRIALS):
        err.add("n_trials", f"must be an integer from 1 to {MAX_TRIALS}")
    lost_after_s = given("lost_after_s")
    low, high = LOST_AFTER_S
    if not (is_number(lost_after_s) and low <= lost_after_s <= high):
        err.add("lost_after_s", f"must be a number of seconds from {low} to {high}")
    typed = ExternalConfig(
        search_space=space,
        metric=metric,
        direction=direction,
        sampler=_sampler(config.get("sampler"), space, n_metrics > 1, err),
        pruner=_pruner(config.get("pruner"), n_metrics > 1, err),
        n_trials=n_trials,
        timeout_s=shared.timeout(given("timeout_s"), "timeout_s", err),
        lost_after_s=lost_after_s,
        seed=shared.seed(given("seed"), "seed", err),
        parallelism=shared.parallelism(given("parallelism"), "parallelism", err, most=1),
    )
    if err:
        raise ConfigError(err)
    return typed


def _metric(raw: object, err: Errors) -> str | list[str]:
    names = raw if isinstance(raw, list) else [raw]
    if not 1 <= len(names) <= MAX_OBJECTIVES:
        err.add("metric", f"must be a name or a list of 1 to {MAX_OBJECTIVES} names")
    elif not all(isinstance(n, str) and METRIC_NAME.fullmatch(n) for n in names):
        err.add("metric", "names start with a letter and hold letters, digits, _ . - (50 at most)")
    elif len(set(names)) != len(names):
        err.add("metric", "must not repeat a name")
    return raw


def _direction(raw: object, metric: object, err: Errors) -> str | list[str]:
    several = isinstance(metric, list)
    if raw is None:
        err.add("direction", "required: 'maximize' or 'minimize' (a list, one per metric)")
    elif several and not (
        isinstance(raw, list) and len(raw) == len(metric) and all(d in DIRECTIONS for d in raw)
    ):
        err.add("direction", f"must be a list of {len(metric)} of: maximize, minimize")
    elif not several and raw not in DIRECTIONS:
        err.add("direction", "must be 'maximize' or 'minimize'")
    return raw

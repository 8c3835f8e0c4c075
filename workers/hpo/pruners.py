"""Optuna pruners by name, with their options: `pruner: {"name": ..., ...}`.

Pruners compare the intermediate values that trainers report at each step: an epoch for
torch models, a growth step (more trees, more boosting iterations) for iterative sklearn
models. Models fitted in one go report nothing and are never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import optuna

from workers.hpo.options import Options, either, integer, number, one_of, option

if TYPE_CHECKING:
    from workers.config import Named


class Pruner:
    """A named rule for stopping unpromising trials early."""

    name: str = ""
    options: type[Options] = Options  # its declared options (none by default)

    def build(self, options: Options) -> optuna.pruners.BasePruner:
        """The Optuna pruner; options named as Optuna's arguments are passed on as they are."""
        raise NotImplementedError


PRUNERS: dict[str, Pruner] = {}


def register(cls: type[Pruner]) -> type[Pruner]:
    PRUNERS[cls.name] = cls()
    return cls


def build_pruner(config: Named) -> optuna.pruners.BasePruner:
    """The configured pruner (a checked config's, its options filled in)."""
    return PRUNERS[config.name].build(config.options)


# The warm-up every percentile pruner takes: trials, then steps of a trial, never pruned.
STARTUP_TRIALS, WARMUP_STEPS = integer(5, 0), integer(5, 0)


@register
class Nop(Pruner):
    name = "none"

    def build(self, options):
        return optuna.pruners.NopPruner()


@dataclass(frozen=True)
class PercentileOptions(Options):
    percentile: float = option(number(25.0, 0.0, 100.0))
    n_startup_trials: int = option(STARTUP_TRIALS)
    n_warmup_steps: int = option(WARMUP_STEPS)


@register
class Percentile(Pruner):
    """Prune a trial whose best value so far is in the worst `percentile` at that step."""

    name = "percentile"
    options = PercentileOptions

    def build(self, options: PercentileOptions):
        return optuna.pruners.PercentilePruner(**options.to_json())


@dataclass(frozen=True)
class MedianOptions(Options):
    n_startup_trials: int = option(STARTUP_TRIALS)
    n_warmup_steps: int = option(WARMUP_STEPS)


@register
class Median(Percentile):
    """The percentile pruner at 50: worse than the median of earlier trials at that step."""

    name = "median"
    options = MedianOptions

    def build(self, options: MedianOptions):
        return super().build(
            PercentileOptions(50.0, options.n_startup_trials, options.n_warmup_steps)
        )


@dataclass(frozen=True)
class SuccessiveHalvingOptions(Options):
    min_resource: int = option(integer(1, 1))
    reduction_factor: int = option(integer(3, 2))


@register
class SuccessiveHalving(Pruner):
    """Asynchronous successive halving (ASHA): keep the best 1/reduction_factor per rung."""

    name = "successive_halving"
    options = SuccessiveHalvingOptions

    def build(self, options: SuccessiveHalvingOptions):
        return optuna.pruners.SuccessiveHalvingPruner(**options.to_json())


@dataclass(frozen=True)
class HyperbandOptions(Options):
    min_resource: int = option(integer(1, 1))
    max_resource: str | int = option(either(one_of("auto", "auto"), integer(None, 1)))
    reduction_factor: int = option(integer(3, 2))


@register
class Hyperband(Pruner):
    """Several successive-halving brackets with different aggressiveness."""

    name = "hyperband"
    options = HyperbandOptions

    def build(self, options: HyperbandOptions):
        return optuna.pruners.HyperbandPruner(**options.to_json())


PRUNERS["asha"] = PRUNERS["successive_halving"]  # the name Katib and Ray users know

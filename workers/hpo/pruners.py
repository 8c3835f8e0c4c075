"""Optuna pruners by name, with their options: `pruner: {"name": ..., ...}`.

Pruners compare the intermediate values that trainers report at each step: an epoch for
torch models, a growth step (more trees, more boosting iterations) for iterative sklearn
models. Models fitted in one go report nothing and are never pruned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import optuna

from workers.hpo.options import Option, either, integer, number, one_of

if TYPE_CHECKING:
    from workers.config import Named


class Pruner:
    """A named rule for stopping unpromising trials early."""

    name: str = ""
    options: dict[str, Option] = {}

    def build(self, options: dict) -> optuna.pruners.BasePruner:
        raise NotImplementedError


PRUNERS: dict[str, Pruner] = {}


def register(cls: type[Pruner]) -> type[Pruner]:
    PRUNERS[cls.name] = cls()
    return cls


def build_pruner(config: Named) -> optuna.pruners.BasePruner:
    """The configured pruner (a checked config's, its options filled in)."""
    return PRUNERS[config.name].build(dict(config.options))


_WARMUP = {"n_startup_trials": integer(5, 0), "n_warmup_steps": integer(5, 0)}


@register
class Nop(Pruner):
    name = "none"

    def build(self, options):
        return optuna.pruners.NopPruner()


@register
class Percentile(Pruner):
    """Prune a trial whose best value so far is in the worst `percentile` at that step."""

    name = "percentile"
    options = {"percentile": number(25.0, 0.0, 100.0), **_WARMUP}

    def build(self, options):
        return optuna.pruners.PercentilePruner(**options)


@register
class Median(Percentile):
    """The percentile pruner at 50: worse than the median of earlier trials at that step."""

    name = "median"
    options = _WARMUP

    def build(self, options):
        return super().build({"percentile": 50.0, **options})


@register
class SuccessiveHalving(Pruner):
    """Asynchronous successive halving (ASHA): keep the best 1/reduction_factor per rung."""

    name = "successive_halving"
    options = {"min_resource": integer(1, 1), "reduction_factor": integer(3, 2)}

    def build(self, options):
        return optuna.pruners.SuccessiveHalvingPruner(**options)


@register
class Hyperband(Pruner):
    """Several successive-halving brackets with different aggressiveness."""

    name = "hyperband"
    options = {
        "min_resource": integer(1, 1),
        "max_resource": either(one_of("auto", "auto"), integer(None, 1)),
        "reduction_factor": integer(3, 2),
    }

    def build(self, options):
        return optuna.pruners.HyperbandPruner(**options)


PRUNERS["asha"] = PRUNERS["successive_halving"]  # the name Katib and Ray users know

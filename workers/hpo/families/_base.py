"""What every model family provides, and the registry of families by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workers.training.options import TrainerOptions
from workers.training.stopping import StopCheck

# on_step(step, model): the model as trained so far; may raise to stop training
# (optuna.TrialPruned, a trial timeout). Steps are comparable across trials of a family:
# an epoch, or one growth step of GROWTH more trees / boosting iterations.
StepFn = Callable[[int, Any], None]
GROWTH = 10


def no_step(step: int, model: Any) -> None:
    pass


def no_progress(fraction: float) -> None:
    pass


@dataclass
class FitContext:
    task: str  # "classification" | "regression"
    seed: int
    needs_proba: bool = False  # the caller will read predict_proba
    on_step: StepFn = no_step
    trainer: TrainerOptions = TrainerOptions()  # how the torch families train
    stop: StopCheck = field(default_factory=StopCheck)  # cancel and deadline, inside a fit
    # The share of this fit done, in (0, 1]: torch families a few times an epoch, growing
    # ones after every growth step, so that a long trial shows its progress as it runs.
    on_progress: Callable[[float], None] = no_progress


class ModelFamily:
    """A kind of model: its default search space and how to fit one setting.

    fit() returns a fitted model with predict(X), for classification predict_proba(X) and
    classes_, that `workers.models.artifacts.save_model` can store: a sklearn estimator or
    a TorchPredictor.
    """

    name: str = ""
    tasks: tuple[str, ...] = ()
    inputs: str = "tabular"  # or "image" (X is N x C x H x W)
    params: tuple[str, ...] = ()  # names a search space may set; missing ones use defaults
    # The largest value a search space may give each param that sizes a trial's memory or
    # time (checked at submission; the README's config reference lists them).
    limits: dict[str, int] = {}
    blocks: str = ""  # what a model-parallel block is, for torch families (fewest_blocks)
    # Rows past which a trial gets slow enough that the new-job form stops offering the
    # family (a kernel SVM's fit grows with the square of the rows); None: no such point.
    # Advice only: a config may still name it.
    comfortable_rows: int | None = None
    # Relative cost of one fit (0: linear, the cheapest), and the params that size a fit
    # (trees, iterations, epochs): a time-budgeted search tries cheap families at their
    # lowest fidelity first (workers/hpo/frugal.py).
    cost: int = 3
    # What fit() returns: "sklearn" (an estimator, storable in skops) or "torch".
    framework: str = "sklearn"
    fidelity: tuple[str, ...] = ()

    def default_space(self, task: str) -> dict:
        raise NotImplementedError

    def fit(self, params: dict, X: np.ndarray, y: np.ndarray, ctx: FitContext) -> Any:
        raise NotImplementedError

    def fewest_blocks(self, space: dict) -> int | None:
        """Blocks of the smallest network `space` (this family's normalised sub-space) can
        give: model-parallel stages (trainer.stages) cut between blocks. None: the family
        is no torch network and trains in one piece."""
        return None


FAMILIES: dict[str, ModelFamily] = {}


def register(cls: type[ModelFamily]) -> type[ModelFamily]:
    FAMILIES[cls.name] = cls()
    return cls


def families_for(task: str, inputs: str | None = None) -> list[str]:
    """Families for a task (and kind of input, if given), in registration order."""
    return [
        name
        for name, fam in FAMILIES.items()
        if task in fam.tasks and (inputs is None or fam.inputs == inputs)
    ]


def grow(
    estimator: Any, attr: str, total: int, X: np.ndarray, y: np.ndarray, ctx: FitContext
) -> Any:
    """Fit a warm-start estimator GROWTH members at a time, calling on_step after each."""
    sizes = [*range(GROWTH, total, GROWTH), total]
    for step, size in enumerate(sizes):
        estimator.set_params(**{attr: size})
        estimator.fit(X, y)
        ctx.on_progress((step + 1) / len(sizes))
        ctx.on_step(step, estimator)
    return estimator


def lowest(spec: dict | None, default: int) -> int:
    """The smallest number a normalised spec can give (`default` without a spec)."""
    if spec is None:
        return default
    if spec["type"] == "fixed":
        values = [spec["value"]]
    elif spec["type"] == "categorical":
        values = spec["choices"]
    else:
        values = [spec["low"]]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return int(min(numbers)) if numbers else default


# Specs of default search spaces, normalised as validate_hpo_config returns them.
def float_(low: float, high: float, log: bool = False) -> dict:
    return {"type": "float", "low": low, "high": high, "log": log, "step": None}


def int_(low: int, high: int, log: bool = False) -> dict:
    return {"type": "int", "low": low, "high": high, "log": log, "step": None}


def categorical(choices: list) -> dict:
    return {"type": "categorical", "choices": choices, "conditional": {}}


def fixed(value: object) -> dict:
    return {"type": "fixed", "value": value}

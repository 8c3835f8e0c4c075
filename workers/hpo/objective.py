"""One trial's work: fit a family on each validation split and measure the objectives."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workers.data.splits import Split
from workers.failures import NumericalError
from workers.hpo.config import HPOConfig
from workers.hpo.families import FAMILIES, FitContext
from workers.hpo.families._base import no_progress
from workers.hpo.metrics import METRICS, evaluate, needs_proba
from workers.hpo.space import family_params
from workers.training.stopping import StopCheck, never

FE_PREFIX = "fe."  # feature-engineering params from the data set's feature_space

ReportFn = Callable[[int, float], None]  # report(step, value of the first metric)


@dataclass
class Fitted:
    """A fitted model with the preprocessing it was fitted behind (or None)."""

    family: str
    params: dict  # the family's own params
    model: Any
    transformer: Any = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X if self.transformer is None else self.transformer.transform(X)


def split_params(config: HPOConfig, params: dict) -> tuple[str, dict, dict]:
    """A trial's flat params -> (family name, the family's own params, "fe.*" params)."""
    fe = {k: v for k, v in params.items() if k.startswith(FE_PREFIX)}
    rest = {k: v for k, v in params.items() if not k.startswith(FE_PREFIX)}
    if config.model == "auto":
        return rest["model"], family_params(rest, rest["model"]), fe
    return config.model, family_params(rest), fe


def fit(
    config: HPOConfig,
    params: dict,
    X: np.ndarray,
    y: np.ndarray,
    *,
    make_transformer: Callable[[dict], Any] | None = None,
    proba: bool = False,
    on_step: Callable[[int, Fitted], None] | None = None,
    stop: StopCheck | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Fitted:
    """Fit the trial's preprocessing (if the data set has one) and model on rows X, y;
    stop is checked, and on_progress(share of the fit done) called, inside the fit by the
    families that train step by step."""
    name, own, fe = split_params(config, params)
    fitted = Fitted(name, own, None)
    if make_transformer is not None:
        fitted.transformer = make_transformer(fe).fit(X, y)
        X = fitted.transformer.transform(X)

    def step(number: int, model: Any) -> None:
        fitted.model = model
        if on_step is not None:
            on_step(number, fitted)

    ctx = FitContext(
        config.task,
        config.seed,
        proba,
        step,
        config.trainer,
        stop or StopCheck(),
        on_progress or no_progress,
    )
    fitted.model = FAMILIES[name].fit(own, X, y, ctx)
    return fitted


def score(fitted: Fitted, names: list[str], X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return evaluate(fitted.model, names, fitted.transform(X), y)


def trial_stop(
    config: HPOConfig,
    should_stop: Callable[[], bool] = never,
    job_deadline: float | None = None,
    max_trial_s: float | None = None,
) -> StopCheck:
    """A trial's stop check: cancel, and whichever deadline comes first of trial_timeout_s
    from now, the platform's longest trial (max_trial_s, the TRIAL_MAX_S setting) from now,
    and the job's timeout_s (job_deadline, a time.monotonic() value, or None)."""
    now = time.monotonic()
    deadlines = []  # (when, the limit's name, whether it ends the job)
    if config.trial_timeout_s is not None:
        limit = config.trial_timeout_s
        deadlines.append((now + limit, f"trial_timeout_s={limit}", False))
    if max_trial_s is not None:
        deadlines.append((now + max_trial_s, f"TRIAL_MAX_S={max_trial_s:g}", False))
    if job_deadline is not None:
        limits = {"timeout_s": config.timeout_s, "time_budget_s": config.time_budget_s}
        named = ", ".join(f"{k}={v}" for k, v in limits.items() if v is not None)
        deadlines.append((job_deadline, named, True))
    if not deadlines:
        return StopCheck(should_stop)
    deadline, limit, ends_job = min(deadlines)
    return StopCheck(should_stop, deadline, limit, ends_job)


def run_objective(
    config: HPOConfig,
    params: dict,
    splits: list[Split],
    report: ReportFn,
    *,
    make_transformer: Callable[[dict], Any] | None = None,
    stop: StopCheck | None = None,
    on_progress: Callable[[float], None] = no_progress,
) -> list[float]:
    """The trial's objective values, each averaged over the validation splits;
    on_progress(share of the trial done) as the families report it within each split.

    Only the first split reports per-step values, so pruning compares like with like.
    A trial past stop's deadline or cancelled raises DeadlineExceeded or Cancelled: torch
    families inside an epoch, the others at their next step or at the end of a split (a
    single fit that has no steps cannot be cut here: the runner's watchdog ends it).
    """
    names = config.objectives
    first = next(n for n in names if METRICS[n].needs != "model")
    check = stop or StopCheck()

    scores = []
    for i, split in enumerate(splits):

        def on_step(step: int, fitted: Fitted, split: Split = split, i: int = i) -> None:
            check(f"after step {step}")
            if i == 0:
                report(step, score(fitted, [first], split.X_valid, split.y_valid)[first])

        fitted = fit(
            config,
            params,
            split.X_train,
            split.y_train,
            make_transformer=make_transformer,
            proba=needs_proba(names),
            on_step=on_step,
            stop=check,
            on_progress=lambda share, i=i: on_progress((i + share) / len(splits)),
        )
        check(f"after fitting split {i + 1} of {len(splits)}")
        scores.append(score(fitted, names, split.X_valid, split.y_valid))
    values = [float(np.mean([s[name] for s in scores])) for name in names]
    if not all(math.isfinite(v) for v in values):
        raise NumericalError(f"metric values are {values}")
    return values

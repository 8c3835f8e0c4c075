"""Runs one HPO job: an in-memory Optuna study driven trial by trial (ask/tell)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import TrialState

from workers.data.splits import Split, holdout_split, kfold_splits
from workers.data.tabular import TabularData
from workers.hpo.families import FAMILIES, ReportFn
from workers.hpo.space import distributions, family_params, suggest
from workers.reporter import Reporter

_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}


@dataclass
class HpoResult:
    best_number: int | None
    best_params: dict
    best_value: float | None
    metric: str
    direction: str
    n_complete: int
    n_pruned: int
    n_failed: int
    stopped: bool


class HpoError(Exception):
    """The job cannot produce a result (e.g. every trial failed)."""


def run_hpo(
    config: dict, data: TabularData, reporter: Reporter, previous_trials: Sequence[dict] = ()
) -> HpoResult:
    """Run the trials `config` (validated) still has budget for; counts include previous ones."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if config["task"] != data.task:
        raise HpoError(f"config is for {config['task']} but the dataset is {data.task}")
    splits = _make_splits(config, data)
    previous = sorted(previous_trials, key=lambda t: t["number"])
    study = optuna.create_study(
        direction=config["direction"],
        sampler=_make_sampler(config["sampler"], len(previous)),
        pruner=_make_pruner(config["pruner"]),
    )
    _add_previous(study, config["search_space"], previous)
    errors = [t["error"] for t in previous if t["state"] == "failed" and t.get("error")]

    n_trials, timeout_s = config["n_trials"], config["timeout_s"]
    started = time.monotonic()
    n_finished = len(previous)
    stopped = reporter.should_stop()
    while not stopped and n_finished < n_trials:
        error = _run_trial(study, config, splits, reporter)
        if error:
            errors.append(error)
        n_finished += 1
        # Like Optuna's own timeout, it is checked between trials: a trial is never cut.
        elapsed = time.monotonic() - started
        fraction = n_finished / n_trials
        if timeout_s is not None:
            fraction = max(fraction, elapsed / timeout_s)
        reporter.progress(min(1.0, fraction))
        stopped = reporter.should_stop()
        if timeout_s is not None and elapsed >= timeout_s:
            break

    return _result(study, config, stopped, errors)


def _make_splits(config: dict, data: TabularData) -> list[Split]:
    validation, seed = config["validation"], config["seed"]
    try:
        if validation["method"] == "cv":
            return kfold_splits(data, validation["folds"], seed)
        return [holdout_split(data, validation["test_size"], seed)]
    except ValueError as e:  # e.g. a class too rare to stratify
        raise HpoError(f"cannot split the data: {e}") from e


def _make_sampler(cfg: dict, n_previous: int) -> optuna.samplers.BaseSampler:
    seed = cfg["seed"]
    if seed is not None and n_previous:
        # A resumed run must not replay the random draws its first run already made.
        seed = (seed + n_previous) % 2**32
    if cfg["name"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # group=True lets multivariate TPE handle the conditional ("auto") spaces.
        multivariate = cfg["multivariate"]
        return optuna.samplers.TPESampler(seed=seed, multivariate=multivariate, group=multivariate)


def _make_pruner(cfg: dict) -> optuna.pruners.BasePruner:
    if cfg["name"] == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=5)
    return optuna.pruners.NopPruner()


def _add_previous(study: optuna.Study, space: dict, previous: list[dict]) -> None:
    for record in previous:
        if record["number"] != len(study.trials):
            # Numbers must line up with the platform's records, so fill gaps (trials
            # that were running when the worker died) with failed placeholders.
            for _ in range(record["number"] - len(study.trials)):
                study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
        params = record["params"]
        curve = record.get("intermediate_values") or {}
        try:
            study.add_trial(
                optuna.trial.create_trial(
                    state=_STATES[record["state"]],
                    values=record.get("values") if record["state"] == "complete" else None,
                    params=params,
                    distributions=distributions(space, params),
                    # Stores may keep JSON keys as strings and non-finite values as null.
                    intermediate_values={int(k): v for k, v in curve.items() if v is not None},
                )
            )
        except (KeyError, ValueError) as e:
            raise HpoError(f"previous trial {record['number']} does not fit: {e}") from e


def _run_trial(study: optuna.Study, config: dict, splits: list[Split], reporter: Reporter) -> str:
    """Run one trial, report it, and return its error message ("" unless it failed)."""
    trial = study.ask()
    params = suggest(trial, config["search_space"])
    reporter.trial_started(trial.number, params)
    curve: dict[int, float] = {}

    def report(step: int, value: float) -> None:
        curve[step] = value
        trial.report(value, step)
        reporter.trial_reported(trial.number, step, value)
        if trial.should_prune():
            raise optuna.TrialPruned()

    values, error = None, ""
    try:
        value = _objective(config, params, splits, report)
    except optuna.TrialPruned:
        state = "pruned"
    except Exception as e:  # any model error fails this trial only
        state, error = "failed", f"{type(e).__name__}: {e}"
    else:
        state, values = "complete", [value]
    study.tell(trial, values, state=_STATES[state])
    reporter.trial_finished(trial.number, state, params, values, curve, error)
    return error


def _objective(config: dict, params: dict, splits: list[Split], report: ReportFn) -> float:
    auto = config["model"] == "auto"
    name = params["model"] if auto else config["model"]
    own = family_params(params, name if auto else None)
    scores = [
        # Only the first fold reports per-epoch values: pruning compares like with like.
        FAMILIES[name].fit_score(
            own, split, config["task"], config["metric"], config["seed"],
            report if i == 0 else lambda step, value: None,
        )  # fmt: skip
        for i, split in enumerate(splits)
    ]
    value = float(np.mean(scores))
    if not math.isfinite(value):
        raise ValueError(f"metric is {value}")
    return value


def _result(study: optuna.Study, config: dict, stopped: bool, errors: list[str]) -> HpoResult:
    counts = {state: 0 for state in _STATES.values()}
    for t in study.trials:
        if t.state in counts:
            counts[t.state] += 1
    n_complete = counts[TrialState.COMPLETE]
    if n_complete == 0 and not stopped:
        n = len(study.trials)
        if counts[TrialState.FAIL] == n:
            first = errors[0] if errors else "unknown"
            raise HpoError(f"all {n} trials failed; first error: {first}")
        raise HpoError(f"no trial completed ({counts[TrialState.PRUNED]} pruned)")
    best = study.best_trial if n_complete else None
    return HpoResult(
        best_number=best.number if best else None,
        best_params=dict(best.params) if best else {},
        best_value=best.value if best else None,
        metric=config["metric"],
        direction=config["direction"],
        n_complete=n_complete,
        n_pruned=counts[TrialState.PRUNED],
        n_failed=counts[TrialState.FAIL],
        stopped=stopped,
    )

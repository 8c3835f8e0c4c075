"""What the platform does with an external job's study when a user's machine calls in.

Each call loads the study afresh (the web process keeps no state between requests): any
number of machines may ask at once, and the budget (workers.studies.budget) keeps the
count exact as it does for the platform's own runners: a trial takes a place until it
ends; one lost (no heartbeat for lost_after_s) is failed as LOST by the next ask, which
hands out its replacement. As in HPO, every other trial fills a place, a failed one too: a
script that always breaks ends its job instead of asking forever.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from workers.external.config import ExternalConfig
from workers.hpo.pruners import build_pruner
from workers.hpo.samplers import SAMPLERS, build_sampler
from workers.hpo.space import grid_values, suggest
from workers.studies.budget import NAMES, Budget, Step, counts
from workers.studies.storage import trial_id


class TrialNotFound(KeyError):
    """No trial of this study has that number."""


class TrialFinished(RuntimeError):
    """The trial has ended (told, or failed as lost): it takes no more reports."""

    def __init__(self, trial: FrozenTrial) -> None:
        self.trial = trial
        super().__init__(f"trial {trial.number} has ended ({NAMES[trial.state]})")


@dataclass
class Answer:
    """What an ask gets: a trial to run ("trial"), "wait" (the budget is full while trials
    still run: one may be lost and need replacing), or "done"; and the trials this ask
    failed as lost (the platform records them)."""

    step: str
    number: int | None = None
    params: dict = field(default_factory=dict)
    lost: list[FrozenTrial] = field(default_factory=list)


def create(config: ExternalConfig, storage: BaseStorage, study_name: str) -> None:
    """Create the job's study once (idempotent)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(
        storage=storage, study_name=study_name, directions=config.directions, load_if_exists=True
    )


class ExternalStudy:
    """One request's view of the job's study.

    Args:
        config: the job's validated config (workers.external.config).
        storage: where the study lives.
        study_name: the job's study.
    """

    def __init__(self, config: ExternalConfig, storage: BaseStorage, study_name: str) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.config, self.storage = config, storage
        self._study_id = storage.get_study_id_from_name(study_name)
        self.n_metrics = len(config.metrics)
        spec = SAMPLERS[config.sampler.name]
        grid = grid_values(config.search_space)[0] if spec.finite_space else {}
        # A fresh sampler per request: seeded anew with the trials so far, so two asks
        # draw differently and a job run again draws the same.
        seen = storage.get_n_trials(self._study_id)
        sampler = build_sampler(config.sampler, _seed(config, seen), grid)
        self.study = optuna.load_study(
            study_name=study_name,
            storage=storage,
            sampler=sampler,
            pruner=build_pruner(config.pruner),
        )
        self._exhausted = lambda: spec.exhausted(sampler, self.study)
        self.budget = Budget(
            # Every trial the budget counts and was not lost takes a place (see above).
            self.study,
            storage,
            config.n_trials,
            lambda trial: True,
            config.lost_after_s,
        )

    def ask(self, *, stop: bool = False) -> Answer:
        """A new trial and its parameters, or what to do instead; `stop` (out of time,
        cancelled) hands out no more trials."""
        lost: list[FrozenTrial] = []
        while True:
            trials, newly_lost = self.budget.read()
            lost += newly_lost
            step = self.budget.next_step(trials, stop=stop or self._exhausted())
            if step is not Step.ASK:
                return Answer(step.value, lost=lost)
            asked = self.budget.ask()
            if asked is None:
                continue  # another machine took the last place: read again
            trial = asked[0]
            params = suggest(trial, self.config.search_space)
            return Answer("trial", trial.number, params, lost)

    def report(self, number: int, step: int, value: float) -> bool:
        """Record an intermediate value (it also counts as a heartbeat); whether the
        study's pruner says to stop the trial (never with several metrics)."""
        trial = self._running(number)
        tid = trial_id(trial)
        try:
            self.storage.set_trial_intermediate_value(tid, step, value)
            self._beat(tid)
        except RuntimeError:
            raise TrialFinished(self.storage.get_trial(tid)) from None
        if self.n_metrics > 1:
            return False
        return self.study.pruner.prune(self.study, self.storage.get_trial(tid))

    def heartbeat(self, number: int) -> None:
        """Keep the trial from being failed as lost."""
        tid = trial_id(self._running(number))
        try:
            self._beat(tid)
        except RuntimeError:
            raise TrialFinished(self.storage.get_trial(tid)) from None

    def tell(
        self, number: int, state: str, values: list[float] | None = None, error: str = ""
    ) -> FrozenTrial:
        """End the trial: "complete" with one value per metric, "pruned" (its value is its
        last intermediate one, as Optuna keeps it) or "failed" with why."""
        tid = trial_id(self._running(number))
        if state == "complete" and (
            values is None
            or len(values) != self.n_metrics
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in values)
        ):
            raise ValueError(f"a complete trial needs {self.n_metrics} finite value(s)")
        try:
            self.budget.tell(
                optuna.Trial(self.study, tid),
                state,
                values if state == "complete" else None,
                error,
            )
        except RuntimeError:  # failed as lost (or told by another call) meanwhile
            raise TrialFinished(self.storage.get_trial(tid)) from None
        return self.storage.get_trial(tid)

    def trial(self, number: int) -> FrozenTrial:
        """The trial as the study holds it now (TrialNotFound if it has none so numbered)."""
        try:
            tid = self.storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        except KeyError:
            raise TrialNotFound(number) from None
        return self.storage.get_trial(tid)

    def _running(self, number: int) -> FrozenTrial:
        trial = self.trial(number)
        if trial.state != TrialState.RUNNING:
            raise TrialFinished(trial)
        return trial

    def _beat(self, tid: int) -> None:
        self.storage.set_trial_system_attr(tid, "heartbeat", time.time())


def summarize(config: ExternalConfig, storage: BaseStorage, study_name: str) -> dict:
    """The job's result: counts, the best trial (or the Pareto front) and fANOVA importances
    of its parameters. Discarded asks (runners raced for the last place) are left out."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = [t for t in study.get_trials(deepcopy=False) if counts(t)]
    tally = {name: 0 for name in ("complete", "pruned", "failed")}
    for trial in trials:
        if trial.state in NAMES and trial.state != TrialState.RUNNING:
            tally[NAMES[trial.state]] += 1
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    front = _front(study, complete)
    best = front[0] if front else None
    return {
        "metric": config.metric,
        "direction": config.direction,
        "best_number": best.number if best else None,
        "best_params": dict(best.params) if best else {},
        "best_value": best.values[0] if best else None,
        "best_values": list(best.values) if best else None,
        "best_trials": [
            {"number": t.number, "params": dict(t.params), "values": list(t.values)} for t in front
        ],
        "n_complete": tally["complete"],
        "n_pruned": tally["pruned"],
        "n_failed": tally["failed"],
        "importances": _importances(study, complete, config.seed),
    }


def _front(study: optuna.Study, complete: list[FrozenTrial]) -> list[FrozenTrial]:
    """The best trial, or the Pareto front best-first on the first metric."""
    if not complete:
        return []
    sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
    if len(study.directions) == 1:
        return [max(complete, key=lambda t: (sign * t.values[0], -t.number))]
    return sorted(study.best_trials, key=lambda t: (-sign * t.values[0], t.number))


def _importances(study: optuna.Study, complete: list[FrozenTrial], seed: int) -> dict:
    if len(study.directions) > 1 or len(complete) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError):  # e.g. no parameter shared by every trial
        return {}
    return {name: float(value) for name, value in found.items()}


def _seed(config: ExternalConfig, offset: int) -> int:
    seed = config.sampler.seed
    return ((config.seed if seed is None else seed) + offset) % 2**32

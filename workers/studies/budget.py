"""How the runners of one shared study fill a job's budget of trials exactly.

A budget is `size` trials that take a place. Which finished trials take one is the
engine's rule (HPO: every trial that ran to its end; NAS: complete candidates only);
a running trial holds a place until it ends, a lost one (heartbeat.LOST) never has one,
nor does a discarded one. Any number of runners ask the study for trials at once, and
Optuna numbers them densely across runners. A trial's place is how many trials numbered
before it take a place: one asked at or past the budget (runners raced for the last
place) is discarded: told FAIL, marked DISCARDED, never run, never reported, left out of
every count. Once the trials with a place fill the budget, a runner waits while trials
still run (one may yet be lost and need a replacement) and is done once none does.

A failed trial that is retried (marked RETRIED before it is told, its retry enqueued as
a WAITING trial) gives its place to the retry: a retry never counts twice. A waiting
trial holds a place, and while one waits runners ask (study.ask() hands it out first).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from workers.studies.heartbeat import (
    OnLost,
    fail_stale,
    is_lost,
    reap_stale_trials,
    trial_heartbeat,
)
from workers.studies.storage import study_id, trial_id

DISCARDED = "discarded"  # trial system attr
RETRIED = "retried"  # trial system attr: a retry of it was enqueued
STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
NAMES = {state: name for name, state in STATES.items()} | {TrialState.RUNNING: "running"}


class Step(enum.Enum):
    ASK = "ask"  # the budget has room: ask a trial
    WAIT = "wait"  # full, but trials still run: one may be lost and need a replacement
    DONE = "done"  # full (or stopped), and no trial runs


def counts(trial: FrozenTrial) -> bool:
    """Whether the trial counts at all (a discarded one was never run)."""
    return not trial.system_attrs.get(DISCARDED, False)


class Budget:
    """`size` trials of `study` with a place, shared with the study's other runners.

    Args:
        study: the job's study, loaded with this runner's sampler.
        storage: the storage the study was loaded from.
        size: how many trials take a place.
        takes_place: the engine's rule for a counted, not lost trial.
        stale_after_s: a running trial whose heartbeat is older is failed as lost.
        on_lost: called with each trial this runner fails as lost, before it is failed
            (heartbeat.fail_stale); the engine enqueues its retry there.
    """

    def __init__(
        self,
        study: optuna.Study,
        storage: BaseStorage,
        size: int,
        takes_place: Callable[[FrozenTrial], bool],
        stale_after_s: float,
        on_lost: OnLost | None = None,
    ) -> None:
        self.study, self.storage, self.size = study, storage, size
        self.study_id = study_id(study)
        self._rule, self.stale_after_s = takes_place, stale_after_s
        self.on_lost = on_lost
        self.last_asked = -1  # the number of the last trial this runner asked

    def takes_place(self, trial: FrozenTrial) -> bool:
        return (
            counts(trial)
            and not is_lost(trial)
            and not trial.system_attrs.get(RETRIED, False)
            and self._rule(trial)
        )

    def read(self) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
        """The counted trials, after failing the stale running ones as lost; and those."""
        trials = self._counted()
        lost = fail_stale(self.storage, trials, self.stale_after_s, self.on_lost)
        return (self._counted() if lost else trials), lost

    def reap(self) -> None:
        """Fail the stale running trials as lost, reading only the running ones."""
        reap_stale_trials(self.storage, self.study.study_name, self.stale_after_s, self.on_lost)

    def next_step(self, trials: Sequence[FrozenTrial], *, stop: bool = False) -> Step:
        """What a runner does next, from `trials` (read()); `stop` ends asking as a full
        budget does (cancelled, out of time)."""
        if not stop and (
            sum(self.takes_place(t) for t in trials) < self.size
            or any(t.state == TrialState.WAITING for t in trials)
        ):
            return Step.ASK
        if any(t.state == TrialState.RUNNING for t in trials):
            return Step.WAIT
        return Step.DONE

    def ask(
        self, *, sure_below: int = 0, most: int | None = None
    ) -> tuple[optuna.Trial, int | None] | None:
        """A new trial and its place, or None when it was discarded.

        A trial numbered below `sure_below` has a place without reading the study (its
        place is then None); `most` also discards a trial with that many counted trials
        numbered before it.
        """
        trial = self.study.ask()
        self.last_asked = trial.number
        if trial.number < sure_below:
            return trial, None
        earlier = [t for t in self._counted() if t.number < trial.number]
        place = sum(self.takes_place(t) for t in earlier)
        if place >= self.size or (most is not None and len(earlier) >= most):
            self.storage.set_trial_system_attr(trial_id(trial), DISCARDED, True)
            self.study.tell(trial, state=TrialState.FAIL)
            return None
        return trial, place

    def running(self, trial: optuna.Trial):
        """The trial's heartbeat while the block runs it."""
        return trial_heartbeat(self.storage, trial_id(trial))

    def tell(
        self,
        trial: optuna.Trial,
        state: str,
        values: Sequence[float] | None = None,
        error: str = "",
        attrs: dict | None = None,
    ) -> None:
        """Finish the trial as `state` (a key of STATES), with why it failed if it did and
        any other system `attrs` (set first: a finished trial's can no longer change)."""
        for key, value in {**({"error": error} if error else {}), **(attrs or {})}.items():
            self.storage.set_trial_system_attr(trial_id(trial), key, value)
        self.study.tell(trial, values, state=STATES[state])

    def _counted(self) -> list[FrozenTrial]:
        return [t for t in self.storage.get_all_trials(self.study_id, deepcopy=False) if counts(t)]

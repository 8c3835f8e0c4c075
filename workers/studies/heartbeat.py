"""Each running trial carries a heartbeat, and a trial whose heartbeat stopped (its worker
died) is failed as LOST by whichever runner notices it first.

Optuna's own heartbeat runs only inside study.optimize() and only on RDB storages; this
one works with ask/tell on every storage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from workers.failures import INFRASTRUCTURE
from workers.heartbeat import beating
from workers.studies.storage import trial_id

HEARTBEAT_S = 2.0
LOST = "The worker running this trial was lost."
FAILURE_CLASS = "failure_class"  # trial system attr: workers.failures class of a failure

# Called with a trial about to be failed as lost; returns more system attrs to set on it
# first (a finished trial's attrs can no longer change).
OnLost = Callable[[FrozenTrial], dict]


def trial_heartbeat(storage: BaseStorage, trial: int):
    """A "heartbeat" system attr on the trial (by id) while the block runs, so others see
    it alive."""

    def beat() -> bool:
        try:
            storage.set_trial_system_attr(trial, "heartbeat", time.time())
        except RuntimeError:
            return False  # the trial finished (or was failed as lost)
        return True

    # No beat at the start: a trial shorter than HEARTBEAT_S costs no write, and
    # fail_stale judges a trial that never beat by its start time.
    return beating(beat, HEARTBEAT_S, name=f"trial-heartbeat-{trial}", first_now=False)


def fail_stale(
    storage: BaseStorage,
    trials: list[FrozenTrial],
    stale_after_s: float,
    on_lost: OnLost | None = None,
) -> list[FrozenTrial]:
    """Fail, as LOST (an infrastructure failure), the running ones of `trials` that have
    not beaten for stale_after_s seconds (one that never beat is judged by its start
    time); return those failed."""
    now, failed = time.time(), []
    for trial in trials:
        if trial.state != TrialState.RUNNING:
            continue
        beat = trial.system_attrs.get("heartbeat")
        if beat is None:
            beat = trial.datetime_start.timestamp() if trial.datetime_start else now
        if now - beat <= stale_after_s:
            continue
        try:
            attrs = {"error": LOST, FAILURE_CLASS: INFRASTRUCTURE}
            attrs.update(on_lost(trial) if on_lost is not None else {})
            for key, value in attrs.items():
                storage.set_trial_system_attr(trial_id(trial), key, value)
            storage.set_trial_state_values(trial_id(trial), TrialState.FAIL)
        except RuntimeError:
            continue  # it finished in the meantime
        failed.append(trial)
    return failed


def is_lost(trial: FrozenTrial) -> bool:
    return trial.system_attrs.get("error") == LOST


def reap_stale_trials(
    storage: BaseStorage, study_name: str, stale_after_s: float, on_lost: OnLost | None = None
) -> int:
    """Fail (as LOST) the running trials whose worker stopped beating; return how many
    still run."""
    study = storage.get_study_id_from_name(study_name)
    running = storage.get_all_trials(study, deepcopy=False, states=(TrialState.RUNNING,))
    return len(running) - len(fail_stale(storage, running, stale_after_s, on_lost))


def wait_for_runners(
    storage: BaseStorage, study_name: str, stale_after_s: float, poll_s: float = 1.0
) -> None:
    """Wait until no trial of the study is running: each ends, or goes stale and fails."""
    while reap_stale_trials(storage, study_name, stale_after_s) > 0:
        time.sleep(poll_s)

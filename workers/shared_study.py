"""What runners on one shared Optuna study (HPO trials, NAS candidates) agree on: each
running trial carries a heartbeat, and a trial whose heartbeat stopped (its worker died)
is failed as LOST by whichever runner notices it first."""

from __future__ import annotations

import time

import optuna
from optuna.trial import FrozenTrial, TrialState

from workers.heartbeat import beating

HEARTBEAT_S = 2.0
LOST = "The worker running this trial was lost."


def trial_heartbeat(storage: optuna.storages.BaseStorage, trial_id: int):
    """A "heartbeat" system attr on the trial while the block runs, so others see it alive.

    Optuna's own heartbeat runs only inside study.optimize() and only on RDB storages; this
    one works with ask/tell on every storage.
    """

    def beat() -> bool:
        try:
            storage.set_trial_system_attr(trial_id, "heartbeat", time.time())
        except RuntimeError:
            return False  # the trial finished (or was failed as lost)
        return True

    # No beat at the start: a trial shorter than HEARTBEAT_S costs no write, and
    # fail_stale judges a trial that never beat by its start time.
    return beating(beat, HEARTBEAT_S, name=f"trial-heartbeat-{trial_id}", first_now=False)


def fail_stale(
    storage: optuna.storages.BaseStorage, trials: list[FrozenTrial], stale_after_s: float
) -> list[FrozenTrial]:
    """Fail, as LOST, the running ones of `trials` that have not beaten for stale_after_s
    seconds (one that never beat is judged by its start time); return those failed."""
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
            storage.set_trial_system_attr(trial._trial_id, "error", LOST)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except RuntimeError:
            continue  # it finished in the meantime
        failed.append(trial)
    return failed


def is_lost(trial: FrozenTrial) -> bool:
    return trial.system_attrs.get("error") == LOST

"""A job's search clock, kept in its study so that every runner on every worker reads the
same one: the time the search has run, paused intervals left out.

The rule, in one place: a time limit counts the time a job runs, not the time it waits
paused (or finished, before it was extended). The clock starts when the job's study is
created; the runner that pauses the job stops it; the next start (a resume) moves its
start past the stopped interval. A runner taking over from a dead worker finds it
running and changes nothing. Used by a parallel NAS search's timeout_s and an HPO job's
time_budget_s (an HPO runner's timeout_s counts from its own start, so a resumed runner's
starts afresh).
"""

from __future__ import annotations

import time

from optuna.storages import BaseStorage


def _stopped_key(key: str) -> str:
    return f"{key}_stopped"


def start(storage: BaseStorage, study_id: int, key: str) -> None:
    """Start the clock stored under `key`, or run it on after a stop (the stopped
    interval is skipped). Idempotent while it runs."""
    attrs = storage.get_study_system_attrs(study_id)
    now = time.time()
    if key not in attrs:
        storage.set_study_system_attr(study_id, key, now)
    elif (stopped := attrs.get(_stopped_key(key))) is not None:
        storage.set_study_system_attr(study_id, key, attrs[key] + now - stopped)
        storage.set_study_system_attr(study_id, _stopped_key(key), None)


def stop(storage: BaseStorage, study_id: int, key: str) -> None:
    """Stop the clock (the job pauses); a stopped clock stays at its first stop."""
    attrs = storage.get_study_system_attrs(study_id)
    if key in attrs and attrs.get(_stopped_key(key)) is None:
        storage.set_study_system_attr(study_id, _stopped_key(key), time.time())


def started(attrs: dict, key: str) -> float | None:
    """The epoch seconds the running clock counts from, from the study's system attrs
    (a stopped clock reads as if it ran on from now); None before it started."""
    if key not in attrs:
        return None
    stopped = attrs.get(_stopped_key(key))
    return attrs[key] if stopped is None else attrs[key] + time.time() - stopped

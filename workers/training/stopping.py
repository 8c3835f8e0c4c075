"""Stopping a run from outside: the job's cancel flag and its deadlines.

Torch-free, so that engines which train no network (sklearn families, growth steps) check
the same way the training loop does. A stop is an exception, not a return value: it
unwinds a trial from any depth, and the engine records it with its reason (the message).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


class Stopped(Exception):
    """A run was stopped before it finished; the message says why and where."""


class Cancelled(Stopped):
    """The user cancelled the job."""


class DeadlineExceeded(Stopped):
    """A time limit (timeout_s, trial_timeout_s) passed."""


def never() -> bool:
    return False


@dataclass(frozen=True)
class StopCheck:
    """Raises Cancelled or DeadlineExceeded when called past either condition.

    should_stop: the reporter's cancel check (it polls the database at most every few
        seconds, so calling it on every step is cheap).
    deadline: a time.monotonic() value, or None for no limit.
    limit: names the deadline in the message, e.g. "trial_timeout_s=60".
    """

    should_stop: Callable[[], bool] = never
    deadline: float | None = None
    limit: str = "the deadline"

    def __call__(self, where: str) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineExceeded(f"{self.limit} exceeded ({where})")
        if self.should_stop():
            raise Cancelled(f"cancelled ({where})")

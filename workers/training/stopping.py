"""Stopping a run from outside: the job's cancel flag and its deadlines.

Torch-free, so that engines which train no network (sklearn families, growth steps) check
the same way the training loop does. A stop is an exception, not a return value: it
unwinds a trial from any depth, and the engine records it with its reason (the message).

A StopCheck is cooperative: code calls it between steps, and one long call (a single
sklearn fit, a user callback that never returns) calls none. A Watchdog enforces it from
outside: a thread that, once the check has fired for `grace_s` without the run ending,
records the end and then ends the whole process (HardStop.end_process). Nothing is raised
into the running code: an exception thrown into arbitrary code (a signal handler, an async
exception) can land inside a database transaction and leave the connection or Optuna's
session broken for the process that goes on using it. A process that ends holds nothing:
the database rolls its open transaction back. In a worker, the broker then hands the
process's task to a fresh one (acks_late, reject_on_worker_lost), which goes on with the
next trial.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    ends_job: the deadline is the job's own (timeout_s), not only this trial's.
    """

    should_stop: Callable[[], bool] = never
    deadline: float | None = None
    limit: str = "the deadline"
    ends_job: bool = False

    def __call__(self, where: str) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineExceeded(f"{self.limit} exceeded ({where})")
        if self.should_stop():
            raise Cancelled(f"cancelled ({where})")


@dataclass(frozen=True)
class HardStop:
    """How a Watchdog ends a run that outlives its StopCheck.

    end_process: ends this process at once (it must not return).
    grace_s: how long after the check fired the run may take to stop by itself.
    poll_s: how often the watchdog calls the check.
    on_exit: run in the watchdog's thread as it ends (e.g. to close its database
        connection: the cancel check may query one).
    """

    end_process: Callable[[], None]
    grace_s: float = 10.0
    poll_s: float = 0.5
    on_exit: Callable[[], None] | None = None


class Watch:
    """One watched run. Whoever claims it first, the run as it ends or the watchdog as it
    ends the process, records how it ended; the other must not."""

    def __init__(self, check: StopCheck, end: Callable[[Stopped], None]) -> None:
        self.check, self.end = check, end
        self.fired_at: float | None = None
        self._claim = threading.Lock()

    def claim(self) -> bool:
        return self._claim.acquire(blocking=False)

    def overdue(self, grace_s: float) -> Stopped | None:
        """The stop to record once the check has fired for grace_s, else None."""
        where = f"the trial did not stop within {grace_s:g} s, so its worker process was ended"
        try:
            self.check(where)
        except Stopped as stopped:
            now = time.monotonic()
            self.fired_at = self.fired_at if self.fired_at is not None else now
            return stopped if now - self.fired_at >= grace_s else None
        return None


class Watchdog:
    """A thread, while used as a context manager, that ends the process when the run being
    watched (watching()) outlives its StopCheck by hard.grace_s. Without a HardStop it
    watches nothing: runs are then stopped by their own checks only."""

    def __init__(self, hard: HardStop | None, name: str = "trial-watchdog") -> None:
        self.hard, self.name = hard, name
        self._lock = threading.Lock()
        self._watch: Watch | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        if self.hard is not None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @contextmanager
    def watching(self, check: StopCheck, end: Callable[[Stopped], None]) -> Iterator[Watch]:
        """Watch one run while the block runs it; end(stopped) records a run the watchdog
        ends (called in the watchdog's thread, just before the process ends). The block
        must claim() the watch before recording the run's end itself; a claim that fails
        means the process is ending (wait_for_end)."""
        watch = Watch(check, end)
        with self._lock:
            self._watch = watch
        try:
            yield watch
        finally:
            with self._lock:
                self._watch = None

    def _loop(self) -> None:
        assert self.hard is not None
        try:
            while not self._stop.wait(self.hard.poll_s):
                self._look()
        finally:
            if self.hard.on_exit is not None:
                self.hard.on_exit()

    def _look(self) -> None:
        assert self.hard is not None
        with self._lock:
            watch = self._watch
        if watch is None:
            return
        stopped = watch.overdue(self.hard.grace_s)
        if stopped is None or not watch.claim():
            return  # still in time, or the run has just ended by itself
        try:
            watch.end(stopped)
        finally:
            self.hard.end_process()


def wait_for_end() -> None:
    """Block the thread whose run a watchdog claimed: the process ends in a moment."""
    threading.Event().wait()

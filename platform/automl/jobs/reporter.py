"""The engine's reporter, backed by the Job and Trial rows.

Every call writes at once (autocommit), so a finished trial is in the database before
the engine starts the next one: a worker that dies loses only the trial in flight.
"""

import math
import time

from django.db import connection
from django.utils import timezone

from automl.jobs.models import Job, Trial
from automl.jobs.reconnect import reconnecting
from workers import failures
from workers.heartbeat import beating
from workers.reporter import Reporter, TrialRecord
from workers.studies.heartbeat import LOST


def _finite(value: float | None) -> float | None:
    # JSON has no NaN or infinity; a diverged metric is stored as null.
    return value if value is not None and math.isfinite(value) else None


class DatabaseReporter(Reporter):
    """Trials are written as they happen; the job's progress and cancel flag, which a
    trivial trial would otherwise pay a round trip each for, at most every POLL_S."""

    POLL_S = 1.0

    def __init__(self, job: Job, worker: str = "") -> None:
        self.job_id = job.id
        self.worker = worker
        self._curves: dict[int, dict[int, float | None]] = {}
        self._records: dict[int, TrialRecord] = {}
        self._progress_at = self._stop_at = -math.inf
        self._stop = self._pause = False

    @reconnecting
    def trial_started(self, number: int, params: dict) -> None:
        self._curves[number] = {}
        fields = {
            "state": Trial.State.RUNNING,
            "params": params,
            "worker": self.worker,
            "started_at": timezone.now(),
            "intermediate_values": {},
        }
        # One query for the usual case (a new number); a re-run trial updates its row.
        if not Trial.objects.filter(job_id=self.job_id, number=number).update(**fields):
            Trial.objects.update_or_create(job_id=self.job_id, number=number, defaults=fields)

    @reconnecting
    def trial_reported(self, number: int, step: int, value: float) -> None:
        curve = self._curves.setdefault(number, {})
        curve[step] = _finite(value)
        Trial.objects.filter(job_id=self.job_id, number=number).update(intermediate_values=curve)

    def trial_record(self, number: int, record: TrialRecord) -> None:
        self._records[number] = record  # written with trial_finished, in one UPDATE

    @reconnecting
    def trial_finished(self, number, state, params, values, intermediate_values, error=""):
        fields = {
            "state": state,
            "params": params,
            "values": None if values is None else [_finite(v) for v in values],
            "intermediate_values": {k: _finite(v) for k, v in intermediate_values.items()},
            "error": error,
            "finished_at": timezone.now(),
            **record_fields(self._records.pop(number, TrialRecord()), state, error),
        }
        if not Trial.objects.filter(job_id=self.job_id, number=number).update(**fields):
            Trial.objects.update_or_create(job_id=self.job_id, number=number, defaults=fields)
        self._curves.pop(number, None)

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._progress_at < self.POLL_S:
            return
        self._progress_at = now
        self._save_progress(min(max(fraction, 0.0), 1.0))

    def should_stop(self) -> bool:
        return self._flags()[0]

    def should_pause(self) -> bool:
        return self._flags()[1]

    def _flags(self) -> tuple[bool, bool]:
        """(cancel, pause) requested, read at most every POLL_S; once set, kept."""
        now = time.monotonic()
        if not self._stop and now - self._stop_at >= self.POLL_S:
            self._stop_at = now
            cancel, pause = self._requested()
            self._stop, self._pause = cancel, self._pause or pause
        return self._stop, self._pause

    @reconnecting
    def _save_progress(self, fraction: float) -> None:
        # Only while it runs: another runner may have finished the job (progress 1.0) since.
        Job.objects.filter(id=self.job_id, status=Job.Status.RUNNING).update(
            progress=fraction, heartbeat_at=timezone.now()
        )

    @reconnecting
    def _requested(self) -> tuple[bool, bool]:
        flags = Job.objects.filter(id=self.job_id).values_list(
            "cancel_requested", "pause_requested"
        )
        return tuple(flags.first() or (True, False))


def record_fields(record: TrialRecord, state: str, error: str) -> dict:
    """A trial row's failure class, retry link and log; an engine that names no class
    (NAS, compression) gets one read from the error text."""
    failure = record.failure_class
    if state == Trial.State.FAILED and not failure:
        failure = failures.classify_text(error, lost=error == LOST)
    return {
        "failure_class": failure,
        "retry_of": record.retry_of,
        "retry_change": record.retry_change,
        "log": record.log,
    }


def heartbeat(job_id: int, every_s: float = 30.0):
    """Keep the job's heartbeat fresh while a long trial runs without reporting."""

    @reconnecting
    def beat() -> None:
        Job.objects.filter(id=job_id).update(heartbeat_at=timezone.now())

    # The thread has its own database connection, closed when it ends (resolved inside
    # the thread: `connection` is per thread).
    return beating(
        beat,
        every_s,
        name=f"heartbeat-job-{job_id}",
        first_now=False,
        on_exit=lambda: connection.close(),
    )

"""What every kind's runner does the same way around its engine."""

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

from automl.jobs import lifecycle
from automl.jobs.models import Job
from automl.jobs.reconnect import reconnecting
from automl.jobs.reporter import DatabaseReporter, heartbeat

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def reporter_for(job: Job) -> DatabaseReporter:
    return DatabaseReporter(job, worker=worker_name())


def load_data(job: Job):
    from automl.datasets.services import training_data

    return training_data(job.dataset, job.config)


def artifact_dir(job: Job) -> Path:
    """Where the job's best model is saved (one folder per job, under ARTIFACT_ROOT)."""
    from django.conf import settings

    return settings.ARTIFACT_ROOT / "jobs" / str(job.id) / "best"


@reconnecting
def fail(job_id: int, exc: Exception) -> None:
    from workers.failures import classify

    log.exception("job %s failed", job_id)
    message = f"{type(exc).__name__}: {exc}"
    # A retry policy that stopped the job names the trials' class; else the job's own.
    failure = getattr(exc, "failure_class", None) or classify(exc)
    lifecycle.transition(job_id, Job.Status.FAILED, error_message=message, failure_class=failure)


def engine_result(job: Job, run: Callable[[object], dict]) -> dict | None:
    """run(the job's training data) with the job's heartbeat kept fresh: the engine's
    result, or None once its exception has failed the job."""
    try:
        with heartbeat(job.id):
            return run(load_data(job))
    except Exception as exc:
        fail(job.id, exc)
        return None

"""The one place a job's status changes.

    queued → running → succeeded | failed | cancelled
    queued → cancelled | failed
    succeeded | failed | cancelled → queued   (reopen: re-run failed trials, extend)
    running → paused → queued (resume) | cancelled

A job's checkpoints (Job.checkpoint_dir) are deleted when it finishes.

Every change is a conditional UPDATE: it happens only if the row is still in a state the
change may start from, so two processes racing for one job cannot both win.
"""

import shutil
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from automl import audit
from automl.jobs.dispatch import dispatch_on_commit
from automl.jobs.models import Job, Trial
from workers.failures import INFRASTRUCTURE
from workers.studies.heartbeat import LOST

Status = Job.Status

ALLOWED: dict[str, set[str]] = {
    Status.QUEUED: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
    Status.RUNNING: {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.PAUSED},
    Status.PAUSED: {Status.QUEUED, Status.CANCELLED},
}


class TransitionError(Exception):
    pass


def transition(
    job_id: int, to: str, *, only_if: Q | None = None, actor: Any = None, **fields: Any
) -> bool:
    """Move the job to status `to` if its current status allows it (audited: `actor` is
    the user who asked for it, None for a worker).

    Returns True if this call made the change, False if the job was not in a state that
    may go to `to` (or did not match `only_if`).
    """
    sources = [source for source, targets in ALLOWED.items() if to in targets]
    if not sources:
        raise TransitionError(f"no status may change to {to!r}")
    now = timezone.now()
    if to == Status.RUNNING:
        fields.setdefault("started_at", now)
        fields.setdefault("heartbeat_at", now)
    if to in Job.FINISHED:
        fields.setdefault("finished_at", now)
    if to == Status.SUCCEEDED:
        fields.setdefault("progress", 1.0)
    rows = Job.objects.filter(id=job_id, status__in=sources)
    if only_if is not None:
        rows = rows.filter(only_if)
    before = rows.values_list("status", flat=True).first()
    if rows.update(status=to, **fields) != 1:
        return False
    job = Job.objects.only("kind", "name", "parent_id").get(id=job_id)
    audit.record(job, actor, {"status": [before, to]})
    if to in Job.FINISHED:
        # Nothing will resume it now: its checkpoints go (a finished job queued again, to
        # re-run failed trials or take more, starts from its trials, not from these).
        directory = Job(id=job_id).checkpoint_dir
        transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))
    if to in (*Job.FINISHED, Status.PAUSED, Status.QUEUED):
        # A job ended or paused frees its worker processes; one queued again waits its turn.
        dispatch_on_commit()
    if to in Job.FINISHED and job.parent_id is not None:
        wake_on_commit(job.parent_id)  # the pipeline goes on to its next stage
    return True


def wake_on_commit(job_id: int) -> None:
    """Once committed, send a running job that orchestrates children one more run (its
    kind's run(): it looks at its children and acts). A lost message costs time only:
    the reconciler runs a running job whose heartbeat went stale again."""
    from django.db import transaction

    def wake() -> None:
        from automl.jobs.tasks import run_trials

        queue = Job.objects.filter(id=job_id).values_list("queue", flat=True).first()
        try:
            run_trials.apply_async((job_id, 0), queue=queue or "cpu")
        except Exception:
            pass  # the broker is down: the reconciler's next pass wakes it

    transaction.on_commit(wake)


def claim(job_id: int, worker_host: str, worker_info: dict) -> bool:
    """Take a job for this worker: a queued one, or a running one whose worker went silent.

    A task delivered twice claims the job once: the second delivery finds it running
    with a fresh heartbeat and does nothing. A redelivery after a worker died finds the
    heartbeat stale and takes the job over; the dead worker's unfinished trials fail.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    taken = (
        Job.objects.filter(id=job_id)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=stale))
        .update(
            status=Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
            worker_host=worker_host,
            worker_info=worker_info,
            attempts=F("attempts") + 1,
        )
    )
    if taken:
        Trial.objects.filter(job_id=job_id, state=Trial.State.RUNNING).update(
            state=Trial.State.FAILED,
            error=LOST,
            failure_class=INFRASTRUCTURE,
            finished_at=now,
        )
    return taken == 1


def start_closing(job_id: int) -> bool:
    """Let exactly one trial runner close a running job (summary, refit, final status).

    A runner that died while closing leaves a stale mark, which another may take over.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_STALE_AFTER_S)
    return (
        Job.objects.filter(id=job_id, status=Status.RUNNING)
        .filter(Q(closing_at__isnull=True) | Q(closing_at__lt=stale))
        .update(closing_at=now, heartbeat_at=now)
    ) == 1


def reopen(job_id: int) -> bool:
    """Queue a finished job again, to run the trials added to it (re-runs of failed ones).
    Its result stays until it closes again; the scheduler sends it at its turn (held back
    until then, as a new job is). False if it was not finished."""
    return (
        Job.objects.filter(id=job_id, status__in=Job.FINISHED).update(
            status=Status.QUEUED,
            dispatched_at=None,
            finished_at=None,
            closing_at=None,
            cancel_requested=False,
            error_message="",
            failure_class="",
            progress=0.0,
        )
        == 1
    )


def request_pause(job: Job, actor: Any = None) -> bool:
    """Ask a running job to start no new trial and pause once its running trials end.
    False when it is not running."""
    asked = Job.objects.filter(id=job.id, status=Status.RUNNING, cancel_requested=False).update(
        pause_requested=True
    )
    if asked:
        audit.record(job, actor, {"pause_requested": [False, True]})
    return asked == 1


def pause(job_id: int, **fields: Any) -> bool:
    """The runner closing a job that was asked to pause: it is paused, its study (and
    checkpoints) kept."""
    return transition(
        job_id,
        Status.PAUSED,
        only_if=Q(pause_requested=True),
        pause_requested=False,
        closing_at=None,
        **fields,
    )


def resume(job: Job, actor: Any = None) -> bool:
    """Queue a paused job again; any worker then runs it on from its study."""
    return transition(
        job.id, Status.QUEUED, only_if=Q(status=Status.PAUSED), actor=actor, dispatched_at=None
    )


def request_cancel(job: Job, actor: Any = None) -> bool:
    """Cancel a queued or paused job at once; ask a running one to stop after its current
    step.

    Returns False when the job has already finished.
    """
    waiting = Q(status__in=[Status.QUEUED, Status.PAUSED])
    if transition(job.id, Status.CANCELLED, only_if=waiting, actor=actor):
        return True
    asked = Job.objects.filter(id=job.id, status=Status.RUNNING).update(cancel_requested=True)
    if asked:
        audit.record(job, actor, {"cancel_requested": [False, True]})
        # A pipeline's running stage is cancelled with it; its end wakes the pipeline,
        # which then ends cancelled (woken here too, for a pipeline between stages).
        for child in Job.objects.filter(parent_id=job.id, status__in=Job.ACTIVE):
            request_cancel(child, actor)
        from automl.jobs import kinds

        if kinds.get(job.kind).orchestrates:
            wake_on_commit(job.id)
    return asked == 1

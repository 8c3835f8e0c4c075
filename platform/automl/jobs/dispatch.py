"""The scheduler: which queued job goes to the broker next (fair share between users).

A Celery queue is first in, first out: had every submission been sent at once, one user's
1,000 queued jobs would run before another user's first. So a submitted job is held in
Postgres (queued, `dispatched_at` empty) and `dispatch()` sends the broker only as many
jobs as the live workers can start (their pool processes on that queue, from the worker
heartbeats, plus JOB_DISPATCH_AHEAD waiting ahead), choosing each one so:

1. a user at one of their limits waits (running jobs; trial runners in flight, a job
   taking its parallelism): their jobs stay queued with that reason;
2. among the others, the user holding the fewest slots (running or sent jobs, weighted by
   parallelism; a running job whose trials run on the user's machines holds none) goes
   next, then the one with fewer jobs, then whose oldest waiting job is oldest:
   Determined's fair share, counted in worker processes;
3. that user's own next job is their highest `priority`, then their oldest.

Invariants, under any number of web processes, workers and reconciler passes:
- one dispatch at a time: each runs in a transaction holding a Postgres advisory lock
  (SQLite's IMMEDIATE transactions already serialize writers), so two cannot both fill
  the last free slot;
- a job is sent once per `dispatched_at`, its message on commit; a lost message is sent
  again by the reconciler, and a duplicate is harmless (run_job claims with a conditional
  update);
- Postgres is the truth: everything dispatch() reads is rows, so running it again, from any
  process, at any time, only sends what is due. It runs on each submission, whenever a job
  finishes (lifecycle), when a worker starts, and on every reconciler pass.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from automl.accounts.models import Limits, limits_for, limits_for_users
from automl.jobs import kinds
from automl.jobs.models import Job

log = logging.getLogger(__name__)

# pg_advisory_xact_lock's key: any constant no other lock of ours uses.
LOCK_KEY = 0x61_75_74_6F_6D_6C  # "automl"


@dataclass
class Usage:
    """What one user holds now: jobs running or sent to the broker, and their slots."""

    jobs: int = 0
    slots: int = 0


def holding() -> Q:
    """Jobs that hold a worker process or will soon: running, or sent and not yet claimed."""
    return Q(status=Job.Status.RUNNING) | Q(status=Job.Status.QUEUED, dispatched_at__isnull=False)


def held_slots(kind: str, status: str, parallelism) -> int:
    """Worker processes a holding job takes: its parallelism; none once a job whose
    trials run on the user's own machines is running (a worker only starts it)."""
    if status == Job.Status.RUNNING and kinds.get(kind).external_trials:
        return 0
    return int(parallelism or 1)


def held_rows(rows):
    """(owner, queue, slots) of each holding job among `rows`. A running job that only
    orchestrates child jobs (a pipeline) holds nothing: its children are counted, and
    counting it too could leave its own next stage waiting on it forever."""
    for owner_id, queue, kind, status, parallelism in rows.filter(holding()).values_list(
        "owner_id", "queue", "kind", "status", "config__parallelism"
    ):
        if status == Job.Status.RUNNING and kinds.get(kind).orchestrates:
            continue
        yield owner_id, queue, held_slots(kind, status, parallelism)


def usage_by_user(user_ids=None) -> dict[int, Usage]:
    rows = Job.objects.all()
    if user_ids is not None:
        rows = rows.filter(owner_id__in=list(user_ids))
    usage: dict[int, Usage] = defaultdict(Usage)
    for owner_id, _, slots in held_rows(rows):
        usage[owner_id].jobs += 1
        usage[owner_id].slots += slots
    return usage


def capacity(queue: str) -> int:
    """Pool processes of the live workers that take `queue`, plus the jobs allowed to wait
    in the broker ahead of them (so a worker that frees up never waits for a dispatch)."""
    from automl.monitoring.models import WorkerHeartbeat

    late = timezone.now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_S)
    live = WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen__gte=late)
    processes = sum(beat.concurrency or 1 for beat in live if queue in (beat.queues or []))
    return processes + settings.JOB_DISPATCH_AHEAD


def limit_reached(usage: Usage, limits: Limits, slots: int) -> str:
    """Why a user's job of `slots` slots may not start now ("" when it may)."""
    if usage.jobs >= limits.running_jobs:
        return f"waiting: you have {usage.jobs} jobs running, your limit is {limits.running_jobs}"
    if usage.slots + slots > limits.trials_in_flight:
        return (
            f"waiting: you have {usage.slots} trials in flight and this job runs {slots} "
            f"at once, your limit is {limits.trials_in_flight}"
        )
    return ""


def next_of(owner_id: int, queue: str) -> Job | None:
    """The owner's own next job on `queue`: highest priority, then oldest."""
    return (
        Job.objects.filter(
            owner_id=owner_id, queue=queue, status=Job.Status.QUEUED, dispatched_at__isnull=True
        )
        .order_by("-priority", "created_at", "id")
        .first()
    )


def dispatch() -> list[int]:
    """Send the broker the jobs that are due (module docstring); their ids."""
    from automl.jobs.tasks import run_job

    sent: list[Job] = []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        waiting = Job.objects.filter(status=Job.Status.QUEUED, dispatched_at__isnull=True)
        owners_by_queue: dict[str, dict[int, object]] = defaultdict(dict)
        for row in waiting.values("queue", "owner_id").annotate(oldest=Min("created_at")):
            owners_by_queue[row["queue"]][row["owner_id"]] = row["oldest"]
        if not owners_by_queue:
            return []
        user_ids = {owner for owners in owners_by_queue.values() for owner in owners}
        usage = usage_by_user(user_ids)
        limits = limits_for_users(user_ids)
        held = defaultdict(int)
        for _, queue, slots in held_rows(Job.objects.all()):
            held[queue] += slots
        now = timezone.now()
        for queue, owners in owners_by_queue.items():
            free = capacity(queue) - held[queue]
            blocked: set[int] = set()
            while free > 0:
                candidates = [owner for owner in owners if owner not in blocked]
                if not candidates:
                    break
                owner = min(
                    candidates, key=lambda o: (usage[o].slots, usage[o].jobs, owners[o], o)
                )
                job = next_of(owner, queue)
                if job is None or limit_reached(usage[owner], limits[owner], job.slots):
                    blocked.add(owner)
                    continue
                Job.objects.filter(id=job.id).update(dispatched_at=now)
                usage[owner].jobs += 1
                usage[owner].slots += job.slots
                free -= job.slots
                sent.append(job)
        for job in sent:
            run_job.apply_async_on_commit((job.id,), queue=job.queue)
    if sent:
        log.info("dispatched jobs %s", [job.id for job in sent])
    return [job.id for job in sent]


def dispatch_quietly() -> None:
    """dispatch() where a failure must not fail the caller (a job that just finished, a
    submission already stored): the next trigger or reconciler pass dispatches instead."""
    try:
        dispatch()
    except Exception:
        log.exception("dispatch failed; the reconciler's next pass dispatches")


def dispatch_on_commit() -> None:
    transaction.on_commit(dispatch_quietly)


def waiting_reason(job: Job) -> str:
    """Why a queued job has not started, in the owner's words ("" when it is on its way)."""
    if job.status != Job.Status.QUEUED:
        return ""
    if job.dispatched_at is not None:
        return "sent to the workers: it starts when one of them is free"
    usage = usage_by_user([job.owner_id])[job.owner_id]
    if reason := limit_reached(usage, limits_for(job.owner), job.slots):
        return reason
    first = next_of(job.owner_id, job.queue)
    if first is not None and first.id != job.id:
        return "waiting behind your own jobs of higher priority or submitted earlier"
    others = Job.objects.filter(queue=job.queue).exclude(owner_id=job.owner_id)
    if any(slots for _, _, slots in held_rows(others)):
        return "waiting behind other users' jobs: the workers are busy, it starts at its turn"
    return "waiting for a free worker: your own earlier jobs take them all"

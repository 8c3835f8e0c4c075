"""The compute fleet as staff watch it: jobs and trials (counts, rates, durations), the
broker's queue depths, the workers' heartbeats, and why a queued job waits.

It lives in monitoring rather than beside the jobs: it only reads (jobs/ is where a job
changes state, lifecycle.py), its readers are the staff dashboard, the monitoring API and
the Prometheus collector, and it joins the jobs with what monitoring owns (the worker
heartbeats, the broker). The drift, alert and feedback modules do not touch it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Avg, Count
from django.utils import timezone

from automl.jobs.models import Job, Trial
from automl.monitoring.models import Alert, WorkerHeartbeat
from automl.serving.models import PredictionLog

log = logging.getLogger(__name__)


def job_metrics(hours: int = 24) -> dict:
    """Jobs by status, jobs submitted per hour by status, trials now running, trials per
    minute (last 10 minutes), failure rates, and durations of recent finished jobs."""
    now = timezone.now()
    since = now - timedelta(hours=hours)
    by_status = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    hourly: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for created, status in Job.objects.filter(created_at__gte=since).values_list(
        "created_at", "status"
    ):
        hourly[created.replace(minute=0, second=0, microsecond=0).isoformat()][status] += 1
    finished = Job.objects.filter(finished_at__gte=since, status__in=Job.FINISHED)
    n_finished = finished.count()
    n_failed = finished.filter(status=Job.Status.FAILED).count()
    recent_trials = Trial.objects.filter(finished_at__gte=now - timedelta(minutes=10))
    trials_24h = Trial.objects.filter(finished_at__gte=since).exclude(state="running")
    durations = [
        (f - s).total_seconds()
        for s, f in Job.objects.filter(started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:200]
    ]
    return {
        "jobs_by_status": {status: by_status.get(status, 0) for status in Job.Status.values},
        "jobs_per_hour": [{"hour": hour, **counts} for hour, counts in sorted(hourly.items())],
        "running_trials": Trial.objects.filter(state=Trial.State.RUNNING).count(),
        "trials_per_minute": recent_trials.count() / 10.0,
        "job_failure_rate": n_failed / n_finished if n_finished else None,
        "trial_failure_rate": (
            trials_24h.filter(state=Trial.State.FAILED).count() / (trials_24h.count() or 1)
        )
        if trials_24h.exists()
        else None,
        "job_durations_s": _summary(durations),
        "durations": [
            {
                "finished_at": f.isoformat(),
                "seconds": (f - s).total_seconds(),
                "job": job,
                "kind": kind,
                "status": status,
            }
            for job, kind, status, s, f in Job.objects.filter(
                started_at__isnull=False, finished_at__gte=since
            )
            .order_by("-finished_at")
            .values_list("id", "kind", "status", "started_at", "finished_at")[:200]
        ],
        "window_hours": hours,
    }


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p90": None, "max": None}
    array = np.asarray(values)
    return {
        "n": len(values),
        "p50": float(np.percentile(array, 50)),
        "p90": float(np.percentile(array, 90)),
        "max": float(array.max()),
    }


def housekeeping_tasks() -> set[str]:
    """The tasks Celery beat sends on its own (the reconciler, schedules, drift reports):
    their messages wait in the same queues as users' work, but are not anyone's job."""
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def queue_depths() -> dict[str, dict[str, int | None]]:
    """Messages waiting in each queue of MONITORING_QUEUES, read from the broker (the Redis
    lists, or the filesystem queue's files), and how many of them are housekeeping:
    {"queues": {queue: n}, "housekeeping": {queue: n}}; None when the broker does not
    answer. Housekeeping is told apart by reading the waiting messages' task names, at
    most PEEK_MESSAGES per queue (past that, the rest count as work)."""
    from kombu.exceptions import ChannelError, OperationalError

    from automl.celery import app

    depths: dict[str, int | None] = {}
    housekeeping: dict[str, int | None] = {}
    beat = housekeeping_tasks()
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            for queue in settings.MONITORING_QUEUES:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except ChannelError:  # never declared: nothing was ever sent to it
                    depths[queue] = 0
                names = _waiting_task_names(channel, queue) if depths[queue] else []
                housekeeping[queue] = sum(name in beat for name in names)
    except (OperationalError, OSError, ConnectionError) as exc:
        log.warning("queue depths: the broker did not answer: %s", exc)
        unknown = {queue: None for queue in settings.MONITORING_QUEUES}
        return {"queues": unknown, "housekeeping": dict(unknown)}
    return {"queues": depths, "housekeeping": housekeeping}


PEEK_MESSAGES = 10_000  # waiting messages read per queue to tell housekeeping apart


def _waiting_task_names(channel, queue: str) -> list[str]:
    """The task name of each message waiting in `queue` (the first PEEK_MESSAGES), read
    without taking them off: the filesystem queue's files, or the Redis lists (one per
    priority step); a message taken meanwhile, or not a Celery task, has the name ""."""
    if settings.BROKER_KIND == "filesystem":
        files = sorted(Path(channel.data_folder_in).glob(f"*.{queue}.msg"))[:PEEK_MESSAGES]
        payloads = []
        for path in files:
            try:
                payloads.append(path.read_bytes())
            except OSError:  # a worker took it while we listed the folder
                continue
    else:
        payloads = []
        for step in channel.priority_steps:
            name = f"{queue}{channel.sep}{step}" if step else queue
            payloads += channel.client.lrange(name, 0, PEEK_MESSAGES - len(payloads) - 1)
            if len(payloads) >= PEEK_MESSAGES:
                break
    names = []
    for payload in payloads:
        try:
            names.append(str(json.loads(payload)["headers"]["task"]))
        except (ValueError, KeyError, TypeError):
            names.append("")
    return names


def workers() -> list[WorkerHeartbeat]:
    """Every worker that ever beat, each with `alive` (its last beat is recent, and it did
    not stop), `seconds_since` that beat, and `running_jobs` on its host."""
    now = timezone.now()
    late = timedelta(seconds=3 * settings.WORKER_HEARTBEAT_S)
    running = defaultdict(int)
    for host in Job.objects.filter(status=Job.Status.RUNNING).values_list(
        "worker_host", flat=True
    ):
        running[host] += 1
    beats = list(WorkerHeartbeat.objects.all())
    for beat in beats:
        beat.alive = beat.stopped_at is None and now - beat.last_seen <= late
        beat.seconds_since = round((now - beat.last_seen).total_seconds(), 1)
        beat.running_jobs = running.get(beat.host, 0)
    return beats


def waiting_reason(job: Job) -> str:
    """Why a queued job has not started, when no live worker takes its queue ("" else)."""
    if job.status != Job.Status.QUEUED:
        return ""
    late = timezone.now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_S)
    live = WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen__gte=late)
    if any(job.queue in beat.queues for beat in live):
        return ""
    kind = "GPU" if job.queue == "gpu" else "CPU"
    return (
        f"No {kind} worker is online (none takes the {job.queue!r} queue), so this job "
        f"waits in the queue; it starts as soon as one does. Start one with "
        f'`celery -A automl worker -Q {job.queue}` (README, "Scale out").'
    )


def overview() -> dict:
    """What the dashboard's first screen shows (serializers.OverviewSerializer's shape)."""
    alerts = Alert.objects.filter(resolved_at__isnull=True).select_related("deployment")
    return {
        "jobs": job_metrics(),
        **queue_depths(),
        "workers": workers(),
        "open_alerts": list(alerts),
        "predictions_24h": PredictionLog.objects.filter(
            created_at__gte=timezone.now() - timedelta(hours=24)
        ).count(),
        "latency_ms_24h": PredictionLog.objects.filter(
            created_at__gte=timezone.now() - timedelta(hours=24)
        ).aggregate(mean=Avg("latency_ms"))["mean"],
    }

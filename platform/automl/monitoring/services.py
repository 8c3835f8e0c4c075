"""Monitoring: drift reports on served traffic, alerts, live accuracy from feedback, and
job, queue and worker metrics. Views and the Celery task call these; nothing else does."""

from __future__ import annotations

import json
import logging
import math
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta
from numbers import Real
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone

from automl.errors import Conflict, Invalid, ServiceError
from automl.jobs.models import Job, Trial
from automl.monitoring.models import Alert, DriftReport, Feedback, WorkerHeartbeat
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment, PredictionLog

log = logging.getLogger(__name__)
MAX_FEEDBACK_ITEMS = 1000


# --- drift


def load_reference(version: ModelVersion) -> dict:
    """The version's reference.json (training statistics), or a 409 naming its absence."""
    from automl.registry.storage import StorageError, get_storage

    try:
        with get_storage().open(version.storage_key, "reference.json") as f:
            return json.load(f)
    except (StorageError, ValueError):
        raise Conflict(
            f"{version} has no reference statistics (reference.json); models registered "
            "by a job have them, imported ones may not"
        ) from None


def _primary_version(deployment: Deployment) -> ModelVersion:
    routes = sorted(deployment.routes, key=lambda r: -r["weight"])
    version = ModelVersion.objects.filter(id__in=[r["version"] for r in routes[:1]]).first()
    if version is None:
        raise Conflict(f"{deployment} serves no existing version")
    return version


def window_logs(
    deployment: Deployment, version: ModelVersion, start: datetime, end: datetime
) -> tuple[list, list, int]:
    """Rows and predicted outputs logged for `version` in [start, end), newest first,
    at most DRIFT_MAX_ROWS rows; and the number of log entries read."""
    logs = (
        PredictionLog.objects.filter(
            deployment=deployment, version=version, created_at__gte=start, created_at__lt=end
        )
        .order_by("-created_at", "-id")
        .values_list("inputs", "outputs")
        .iterator(2000)
    )
    rows: list = []
    outputs: list = []
    entries = 0
    for inputs, out in logs:
        entries += 1
        rows.extend(inputs)
        predictions = out.get("predictions") if isinstance(out, dict) else None
        if isinstance(predictions, list):
            outputs.extend(predictions[: len(inputs)])
        if len(rows) >= settings.DRIFT_MAX_ROWS:
            break
    return rows[: settings.DRIFT_MAX_ROWS], outputs[: settings.DRIFT_MAX_ROWS], entries


def _matrix(rows: list, width: int) -> np.ndarray:
    rows = [r for r in rows if isinstance(r, list) and len(r) == width]
    if not rows:
        return np.empty((0, width))
    try:
        return np.array(rows, dtype=np.float64)  # null -> nan
    except (TypeError, ValueError):
        return np.array(rows, dtype=object)


def _finite(value: Any) -> Any:
    """JSON without NaN or infinity (Postgres refuses them): they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def run_drift_report(
    deployment: Deployment,
    *,
    version: ModelVersion | None = None,
    hours: float | None = None,
    trigger: str = DriftReport.Trigger.MANUAL,
    user: Any = None,
    share_threshold: float | None = None,
) -> DriftReport:
    """Compare the last `hours` of the version's logged inputs with its training reference,
    store the report, and raise (or resolve) the deployment's drift alert."""
    from workers.monitoring import DriftOptions, drift_report, prediction_drift

    version = version or _primary_version(deployment)
    reference = load_reference(version)
    hours = settings.DRIFT_WINDOW_HOURS if hours is None else hours
    end = timezone.now()
    start = end - timedelta(hours=hours)
    rows, outputs, _ = window_logs(deployment, version, start, end)
    names = version.features or list(reference.get("features", {}))
    options = DriftOptions(
        share_threshold=settings.DRIFT_SHARE_THRESHOLD
        if share_threshold is None
        else share_threshold,
        min_rows=settings.DRIFT_MIN_ROWS,
    )
    result = drift_report(reference, _matrix(rows, len(names)), names, options)
    # Outputs drift against the window before this one (training outputs are not kept).
    baseline = window_logs(deployment, version, start - (end - start), start)[1]
    kind = "categorical" if version.task == "classification" else "numeric"
    dtype = object if kind == "categorical" else np.float64
    result["prediction_drift"] = None
    if baseline and outputs:
        try:
            result["prediction_drift"] = prediction_drift(
                np.asarray(baseline, dtype=dtype), np.asarray(outputs, dtype=dtype), kind, options
            )
        except (TypeError, ValueError):  # outputs of another shape than the task's
            pass
    report = DriftReport.objects.create(
        deployment=deployment,
        version=version,
        trigger=trigger,
        requested_by=user,
        window_start=start,
        window_end=end,
        n_rows=result["n_rows"],
        drifted_share=result["drifted_share"],
        dataset_drift=result["dataset_drift"],
        result=_finite(result),
    )
    drifted = ", ".join(result["drifted_features"][:10])
    update_alert(
        deployment,
        Alert.Kind.DRIFT,
        crossed=result["dataset_drift"],
        value=result["drifted_share"],
        threshold=options.share_threshold,
        report=report,
        message=f"{len(result['drifted_features'])} of {result['judged_features']} features "
        f"drifted ({result['drifted_share']:.0%}): {drifted}",
    )
    return report


def scheduled_reports() -> dict[str, int]:
    """A report for every deployment that logged predictions in the window (Celery beat)."""
    since = timezone.now() - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    done = skipped = 0
    active = (
        PredictionLog.objects.filter(created_at__gte=since)
        .values_list("deployment", flat=True)
        .order_by()
        .distinct()
    )
    for deployment in Deployment.objects.filter(id__in=list(active)):
        try:
            run_drift_report(deployment, trigger=DriftReport.Trigger.SCHEDULE)
            done += 1
        except ServiceError as exc:
            log.info("no drift report for %s: %s", deployment, exc.detail)
            skipped += 1
    return {"reports": done, "skipped": skipped}


# --- alerts


def update_alert(
    deployment: Deployment,
    kind: str,
    *,
    crossed: bool,
    value: float,
    threshold: float,
    message: str,
    report: DriftReport | None = None,
) -> Alert | None:
    """Open (or refresh) the alert when a threshold is crossed, resolve it when not.

    A newly opened alert is posted to MONITORING_WEBHOOK_URL when one is set.
    """
    with transaction.atomic():
        current = (
            Alert.objects.select_for_update()
            .filter(deployment=deployment, kind=kind, resolved_at__isnull=True)
            .first()
        )
        if not crossed:
            if current is not None:
                current.resolved_at = timezone.now()
                current.save(update_fields=["resolved_at", "updated_at"])
            return None
        if current is not None:
            current.value, current.threshold, current.message = value, threshold, message
            current.report = report or current.report
            current.save(update_fields=["value", "threshold", "message", "report", "updated_at"])
            return current
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    deployment=deployment,
                    kind=kind,
                    message=message,
                    value=value,
                    threshold=threshold,
                    report=report,
                )
        except IntegrityError:  # another process opened it a moment ago
            return Alert.objects.filter(
                deployment=deployment, kind=kind, resolved_at__isnull=True
            ).first()
    notify(alert)
    return alert


def notify(alert: Alert) -> None:
    """POST the alert as JSON to MONITORING_WEBHOOK_URL; the outcome is kept on the alert."""
    url = settings.MONITORING_WEBHOOK_URL
    if not url:
        return
    body = json.dumps(
        {
            "alert": alert.id,
            "kind": alert.kind,
            "deployment": alert.deployment_id,
            "deployment_name": alert.deployment.name,
            "message": alert.message,
            "value": alert.value,
            "threshold": alert.threshold,
            "created_at": alert.created_at.isoformat(),
        }
    ).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.MONITORING_WEBHOOK_TIMEOUT_S) as r:
            status = f"{r.status}"
    except Exception as exc:  # a webhook that is down must not lose the alert
        status = f"error: {type(exc).__name__}: {exc}"[:200]
    Alert.objects.filter(id=alert.id).update(webhook_status=status)


# --- feedback and live performance


def _label_ok(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    return isinstance(value, str) or (isinstance(value, Real) and math.isfinite(value))


def record_feedback(deployment: Deployment, items: Any) -> dict[str, int]:
    """Store true labels: items = [{"prediction": log id, "row": i (default 0), "label": y}].

    A label sent again for the same row replaces the earlier one. Every bad item is named.
    """
    if not isinstance(items, list) or not items:
        raise Invalid(
            "feedback: a non-empty list is required",
            {"feedback": ['a list of {"prediction", "row", "label"}']},
        )
    if len(items) > MAX_FEEDBACK_ITEMS:
        raise Invalid(
            f"feedback: at most {MAX_FEEDBACK_ITEMS} items per request",
            {"feedback": [f"at most {MAX_FEEDBACK_ITEMS} items"]},
        )
    # Only integer ids are looked up: any other JSON value (a dict, a list) is unhashable
    # or cannot be an id, and is named as a bad item below.
    ids = {
        item.get("prediction")
        for item in items
        if isinstance(item, dict) and type(item.get("prediction")) is int
    }
    logs = {log.id: log for log in PredictionLog.objects.filter(deployment=deployment, id__in=ids)}
    errors: dict[str, list[str]] = {}
    clean = []
    for index, item in enumerate(items):
        field = f"feedback.{index}"
        if not isinstance(item, dict) or set(item) - {"prediction", "row", "label"}:
            errors[field] = ['must be {"prediction": id, "row": index, "label": value}']
            continue
        entry = logs.get(item.get("prediction")) if type(item.get("prediction")) is int else None
        if entry is None:
            errors[f"{field}.prediction"] = [
                f"{item.get('prediction')!r} is not a prediction of this deployment"
            ]
            continue
        row = item.get("row", 0)
        if type(row) is not int or not 0 <= row < len(entry.inputs):
            errors[f"{field}.row"] = [
                f"must be a row index below {len(entry.inputs)} (the rows kept in the log)"
            ]
            continue
        if not _label_ok(item.get("label")):
            errors[f"{field}.label"] = ["must be a number or a string"]
            continue
        clean.append((entry, row, item["label"]))
    if errors:
        raise Invalid.from_fields(errors)
    created = 0
    with transaction.atomic():
        for entry, row, label in clean:
            _, new = Feedback.objects.update_or_create(
                prediction=entry, row=row, defaults={"label": label}
            )
            created += new
    check_performance(deployment)
    return {"stored": len(clean), "created": created, "updated": len(clean) - created}


def _pairs(deployment: Deployment, since: datetime | None = None):
    """(version id, time, predicted, true) for every labelled row of the deployment."""
    feedback = Feedback.objects.filter(prediction__deployment=deployment)
    if since is not None:
        feedback = feedback.filter(prediction__created_at__gte=since)
    rows = feedback.values_list(
        "prediction__version", "prediction__created_at", "prediction__outputs", "row", "label"
    )
    for version, at, outputs, row, label in rows.iterator(2000):
        predictions = outputs.get("predictions") if isinstance(outputs, dict) else None
        if isinstance(predictions, list) and row < len(predictions):
            yield version, at, predictions[row], label


def _score(task: str, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
    if task == "classification":
        return {"accuracy": float(np.mean([str(p) == str(t) for p, t in pairs]))}
    predicted = np.array([float(p) for p, _ in pairs])
    true = np.array([float(t) if not isinstance(t, str) else np.nan for _, t in pairs])
    ok = np.isfinite(predicted) & np.isfinite(true)
    error = predicted[ok] - true[ok]
    if not ok.any():
        return {}
    return {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean()))}


def performance(deployment: Deployment, days: int = 30) -> dict:
    """Live accuracy (classification) or error (regression) per version, overall and per
    day of prediction, from the labels sent as feedback."""
    since = timezone.now() - timedelta(days=days)
    task_of = dict(
        ModelVersion.objects.filter(
            id__in=[
                *deployment.version_ids,
                *Feedback.objects.filter(prediction__deployment=deployment).values_list(
                    "prediction__version", flat=True
                ),
            ]
        ).values_list("id", "task")
    )
    by_version: dict[int, list] = defaultdict(list)
    for version, at, predicted, true in _pairs(deployment, since):
        if version is not None:
            by_version[version].append((at, predicted, true))
    versions = []
    for version, items in sorted(by_version.items()):
        task = task_of.get(version, "classification")
        days_ = defaultdict(list)
        for at, predicted, true in items:
            days_[at.date().isoformat()].append((predicted, true))
        versions.append(
            {
                "version": version,
                "task": task,
                "n": len(items),
                "metrics": _score(task, [(p, t) for _, p, t in items]),
                "daily": [
                    {"day": day, "n": len(pairs), "metrics": _score(task, pairs)}
                    for day, pairs in sorted(days_.items())
                ],
            }
        )
    return {
        "deployment": deployment.id,
        "days": days,
        "versions": versions,
        "threshold": {
            "accuracy_below": settings.MONITORING_ACCURACY_THRESHOLD,
            "min_labels": settings.MONITORING_MIN_LABELS,
        },
    }


def check_performance(deployment: Deployment) -> Alert | None:
    """Open a performance alert when a classification version's live accuracy over the
    last day of labels is below MONITORING_ACCURACY_THRESHOLD (with enough labels)."""
    threshold = settings.MONITORING_ACCURACY_THRESHOLD
    report = performance(deployment, days=1)
    worst = None
    for entry in report["versions"]:
        accuracy = entry["metrics"].get("accuracy")
        if accuracy is None or entry["n"] < settings.MONITORING_MIN_LABELS:
            continue
        if worst is None or accuracy < worst[1]:
            worst = (entry["version"], accuracy, entry["n"])
    if worst is None:
        return None
    version, accuracy, n = worst
    return update_alert(
        deployment,
        Alert.Kind.PERFORMANCE,
        crossed=accuracy < threshold,
        value=accuracy,
        threshold=threshold,
        message=f"version {version}: live accuracy {accuracy:.1%} over {n} labels "
        f"(threshold {threshold:.0%})",
    )


# --- jobs, queues, workers


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


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in each queue of MONITORING_QUEUES, read from the broker (the Redis
    lists, or the filesystem queue's files); None when the broker does not answer."""
    from kombu.exceptions import ChannelError, OperationalError

    from automl.celery import app

    depths: dict[str, int | None] = {}
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            for queue in settings.MONITORING_QUEUES:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except ChannelError:  # never declared: nothing was ever sent to it
                    depths[queue] = 0
    except (OperationalError, OSError, ConnectionError) as exc:
        log.warning("queue depths: the broker did not answer: %s", exc)
        return {queue: None for queue in settings.MONITORING_QUEUES}
    return depths


def workers() -> list[dict]:
    """Every worker that ever beat: alive when its last beat is recent."""
    now = timezone.now()
    late = timedelta(seconds=3 * settings.WORKER_HEARTBEAT_S)
    running = defaultdict(int)
    for host in Job.objects.filter(status=Job.Status.RUNNING).values_list(
        "worker_host", flat=True
    ):
        running[host] += 1
    out = []
    for beat in WorkerHeartbeat.objects.all():
        alive = beat.stopped_at is None and now - beat.last_seen <= late
        out.append(
            {
                "name": beat.name,
                "host": beat.host,
                "pid": beat.pid,
                "queues": beat.queues,
                "concurrency": beat.concurrency,
                "alive": alive,
                "last_seen": beat.last_seen.isoformat(),
                "seconds_since": round((now - beat.last_seen).total_seconds(), 1),
                "started_at": beat.started_at.isoformat(),
                "stopped_at": beat.stopped_at.isoformat() if beat.stopped_at else None,
                "running_jobs": running.get(beat.host, 0),
                **beat.info,
            }
        )
    return out


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
    """What the dashboard's first screen shows."""
    alerts = Alert.objects.filter(resolved_at__isnull=True).select_related("deployment")
    return {
        "jobs": job_metrics(),
        "queues": queue_depths(),
        "workers": workers(),
        "open_alerts": [alert_dict(a) for a in alerts],
        "predictions_24h": PredictionLog.objects.filter(
            created_at__gte=timezone.now() - timedelta(hours=24)
        ).count(),
        "latency_ms_24h": PredictionLog.objects.filter(
            created_at__gte=timezone.now() - timedelta(hours=24)
        ).aggregate(mean=Avg("latency_ms"))["mean"],
    }


def alert_dict(alert: Alert) -> dict:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "deployment": alert.deployment_id,
        "deployment_name": alert.deployment.name,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "report": alert.report_id,
        "webhook_status": alert.webhook_status,
        "created_at": alert.created_at.isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def report_dict(report: DriftReport, full: bool = True) -> dict:
    body = {
        "id": report.id,
        "deployment": report.deployment_id,
        "version": report.version_id,
        "trigger": report.trigger,
        "window_start": report.window_start.isoformat(),
        "window_end": report.window_end.isoformat(),
        "n_rows": report.n_rows,
        "drifted_share": report.drifted_share,
        "dataset_drift": report.dataset_drift,
        "drifted_features": report.result.get("drifted_features", []),
        "created_at": report.created_at.isoformat(),
    }
    if full:
        body["result"] = report.result
    return body

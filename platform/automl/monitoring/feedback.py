"""Feedback: true labels sent for logged predictions, the live accuracy (or error) they
give per version and day, and the performance alert when accuracy falls below
MONITORING_ACCURACY_THRESHOLD."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from numbers import Real
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automl.errors import Invalid
from automl.monitoring.alerts import update_alert
from automl.monitoring.models import Alert, Feedback
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment, PredictionLog

MAX_FEEDBACK_ITEMS = 1000


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

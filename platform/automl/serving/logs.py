"""The prediction log: one bounded row per served request, and its retention."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from automl.registry.models import ModelVersion
from automl.serving.models import Deployment, PredictionLog

_writes = itertools.count(1)
_prune_lock = threading.Lock()


def _head(values: Any, n: int) -> Any:
    return values[:n] if isinstance(values, list) else values


def log_prediction(
    deployment: Deployment,
    version: ModelVersion,
    X: np.ndarray,
    out: dict,
    shadow_out: dict | None,
    latency_ms: float,
    cached: bool,
) -> None:
    n = settings.SERVING_LOG_MAX_ROWS
    # JSON has no NaN (Postgres refuses it): missing values are logged as null.
    head = X[:n]
    X_head = (head if head.dtype == object else np.where(head != head, None, head)).tolist()
    PredictionLog.objects.create(
        deployment=deployment,
        version=version,
        n_rows=len(X),
        inputs=X_head,
        outputs={k: _head(v, n) for k, v in out.items() if k != "classes"},
        shadow_version_id=deployment.shadow_id,
        shadow_outputs=None
        if shadow_out is None
        else {k: _head(v, n) for k, v in shadow_out.items() if k != "classes"},
        latency_ms=latency_ms,
        cached=cached,
    )
    # Retention is enforced every SERVING_LOG_PRUNE_EVERY writes of a process, in bounded
    # deletes, so no single response pays for a long backlog.
    if next(_writes) % settings.SERVING_LOG_PRUNE_EVERY == 0 and _prune_lock.acquire(False):
        try:
            prune_prediction_logs(limit=settings.SERVING_LOG_PRUNE_BATCH)
        finally:
            _prune_lock.release()


def prune_prediction_logs(limit: int | None = None) -> int:
    """Delete log rows past the retention: older than SERVING_LOG_RETENTION_DAYS, or beyond
    the newest SERVING_LOG_MAX_ENTRIES of their deployment. At most `limit` rows a call."""
    cutoff = timezone.now() - timedelta(days=settings.SERVING_LOG_RETENTION_DAYS)
    doomed = list(
        PredictionLog.objects.filter(created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    keep = settings.SERVING_LOG_MAX_ENTRIES
    for deployment_id in (
        PredictionLog.objects.values_list("deployment", flat=True).order_by().distinct()
    ):
        if limit is not None and len(doomed) >= limit:
            break
        newest = (
            PredictionLog.objects.filter(deployment=deployment_id)
            .order_by("-id")
            .values_list("id", flat=True)[keep : keep + 1]
        )
        if boundary := list(newest):
            older = (
                PredictionLog.objects.filter(deployment=deployment_id, id__lte=boundary[0])
                .order_by("id")
                .values_list("id", flat=True)
            )
            doomed.extend(older[: None if limit is None else limit - len(doomed)])
    if not doomed:
        return 0
    deleted, _ = PredictionLog.objects.filter(id__in=doomed).delete()
    return deleted

"""Drift reports: a version's logged inputs over a window against its training reference
(workers.monitoring computes the statistics), stored, with the deployment's drift alert
raised or resolved. The Celery beat runs scheduled_reports; staff run one by hand."""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from automl.errors import Conflict, ServiceError
from automl.monitoring.alerts import update_alert
from automl.monitoring.models import Alert, DriftReport
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment, PredictionLog

log = logging.getLogger(__name__)


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
    options: Any = None,
    alert: bool = True,
) -> DriftReport:
    """Compare the last `hours` of the version's logged inputs with its training reference,
    store the report, and raise (or resolve) the deployment's drift alert (unless `alert`
    is false: a monitoring policy that only records). `options` (DriftOptions) are a
    policy's thresholds; by default the settings'."""
    from workers.data.reference import PIXELS, pooled_pixels
    from workers.monitoring import DriftOptions, drift_report, prediction_drift

    version = version or _primary_version(deployment)
    reference = load_reference(version)
    hours = settings.DRIFT_WINDOW_HOURS if hours is None else hours
    end = timezone.now()
    start = end - timedelta(hours=hours)
    rows, outputs, _ = window_logs(deployment, version, start, end)
    names = version.features or list(reference.get("features", {}))
    options = options or DriftOptions(
        share_threshold=settings.DRIFT_SHARE_THRESHOLD
        if share_threshold is None
        else share_threshold,
        min_rows=settings.DRIFT_MIN_ROWS,
    )
    if list(reference.get("features", {})) == [PIXELS] and len(names) == 1:
        # An image model: its reference pools every training pixel into one feature, and
        # its served images are pooled alike, under the data set's name for the image.
        reference = {**reference, "features": {names[0]: reference["features"][PIXELS]}}
        X = pooled_pixels(rows)
    else:
        X = _matrix(rows, len(names))
    result = drift_report(reference, X, names, options)
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
    if not alert:
        return report
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
    """The checks of the monitoring policies that are due (automl.monitoring.policies),
    and a report for every other deployment that logged predictions in the window (Celery
    beat)."""
    from automl.monitoring.policies import check_due, switched_off

    policies = check_due()
    since = timezone.now() - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    done = skipped = 0
    active = (
        PredictionLog.objects.filter(created_at__gte=since)
        .values_list("deployment", flat=True)
        .order_by()
        .distinct()
    )
    plain = Deployment.objects.filter(id__in=list(active)).exclude(monitoring_policy__enabled=True)
    for deployment in plain.select_related("monitoring_policy"):
        try:
            report = run_drift_report(deployment, trigger=DriftReport.Trigger.SCHEDULE)
            switched_off(deployment, report)
            done += 1
        except ServiceError as exc:
            log.info("no drift report for %s: %s", deployment, exc.detail)
            skipped += 1
    return {"reports": done, "skipped": skipped, "policies": policies["checked"]}

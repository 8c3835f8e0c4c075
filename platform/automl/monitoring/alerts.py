"""Alerts: one open alert per deployment and kind (drift, performance), opened when a
threshold is crossed, refreshed while it stays crossed, resolved when it no longer is; a
newly opened one is posted to MONITORING_WEBHOOK_URL."""

from __future__ import annotations

import json
import urllib.request

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from automl.monitoring.models import Alert, DriftReport
from automl.serving.models import Deployment


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
    if alert.kind == Alert.Kind.DRIFT:
        from automl.registry import webhooks

        webhooks.emit(
            deployment.owner,
            webhooks.DRIFT_ALERT,
            {
                "deployment": deployment.name,
                "deployment_id": deployment.id,
                "model": deployment.model_name,
                "alert": alert.id,
                "message": alert.message,
                "drifted_share": alert.value,
                "threshold": alert.threshold,
            },
        )
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

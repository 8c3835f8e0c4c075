"""The activity log: every automatic action a monitoring policy takes on a deployment (a
drift check, a re-tune started or skipped, the challenger registered and compared, the
canary ramp started) with why. Each entry is shown on the deployment page, served by the
API, and announced as the `monitoring_action` webhook event."""

from __future__ import annotations

from typing import Any

from automl.monitoring.models import Activity
from automl.serving.models import Deployment


def record(
    deployment: Deployment,
    kind: str,
    message: str,
    *,
    details: dict | None = None,
    job: Any = None,
    report: Any = None,
) -> Activity:
    from automl.registry import webhooks

    entry = Activity.objects.create(
        deployment=deployment,
        kind=kind,
        message=message,
        details=details or {},
        job=job,
        report=report,
    )
    webhooks.emit(
        deployment.owner,
        webhooks.MONITORING_ACTION,
        {
            "deployment": deployment.name,
            "deployment_id": deployment.id,
            "activity": entry.id,
            "kind": kind,
            "message": message,
            "details": entry.details,
            "job": entry.job_id,
        },
    )
    return entry

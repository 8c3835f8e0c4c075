"""Monitoring policies: the periodic check of a deployment's recent traffic against its
model's reference, and what follows from it (nothing, an alert, or a re-tune).

`decide()` is the one rule, kept free of the database so it is tested on its own: it says
whether a check is due and, after a check, whether to start a re-tune or why not (switched
off, no drift, rate-limited, too few labels). `check_due()` runs from the Celery beat's
drift pass; each check and each decision goes to the deployment's activity log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automl.errors import ServiceError
from automl.monitoring import activity
from automl.monitoring.models import Activity, DriftReport, Feedback, MonitoringPolicy
from automl.serving.models import Deployment

Kind = Activity.Kind


def is_due(policy: MonitoringPolicy, now: datetime) -> bool:
    """An enabled policy's check is due once check_every_hours passed since the last one."""
    if not policy.enabled:
        return False
    last = policy.last_checked_at
    return last is None or now - last >= timedelta(hours=policy.check_every_hours)


def retune_interval(policy: MonitoringPolicy) -> timedelta:
    """The policy's rate limit, never below the operator's RETUNE_MIN_INTERVAL_HOURS."""
    return timedelta(hours=max(policy.retune_every_hours, settings.RETUNE_MIN_INTERVAL_HOURS))


@dataclass(frozen=True)
class Decision:
    """What follows a check: `retune` true to start one; `reason` says why (or why not),
    `skipped` true when a re-tune was wanted but is not allowed now."""

    retune: bool
    reason: str
    skipped: bool = False


def decide(policy: MonitoringPolicy, *, drifted: bool, labels: int, now: datetime) -> Decision:
    """Whether a check that found `drifted` (with `labels` labelled recent rows) starts a
    re-tune under the policy."""
    if not policy.enabled:
        return Decision(False, "the monitoring policy is switched off", skipped=drifted)
    if not drifted:
        return Decision(False, "no drift: nothing to do")
    if policy.action != MonitoringPolicy.Action.RETUNE:
        return Decision(False, f"drift; the policy's action is {policy.action!r}")
    last, interval = policy.last_retune_at, retune_interval(policy)
    if last is not None and now - last < interval:
        return Decision(
            False,
            f"drift, but a re-tune started at {last:%Y-%m-%d %H:%M} UTC and the policy allows "
            f"one per {interval.total_seconds() / 3600:g} h: the next from "
            f"{last + interval:%Y-%m-%d %H:%M} UTC",
            skipped=True,
        )
    if labels < policy.min_labels:
        return Decision(
            False,
            f"drift, but only {labels} labelled recent rows (feedback) of the "
            f"{policy.min_labels} a re-tune needs",
            skipped=True,
        )
    return Decision(True, f"drift, with {labels} labelled recent rows: re-tune")


def labelled_rows(deployment: Deployment, hours: float) -> int:
    since = timezone.now() - timedelta(hours=hours)
    return Feedback.objects.filter(
        prediction__deployment=deployment, prediction__created_at__gte=since
    ).count()


def check(
    policy: MonitoringPolicy,
    *,
    now: datetime | None = None,
    trigger: str = DriftReport.Trigger.SCHEDULE,
) -> Decision:
    """Run the policy's drift check on its deployment, log it, and act on the decision.
    A check that cannot run (ServiceError) is logged with why, and raised."""
    from automl.monitoring.drift import run_drift_report
    from workers.monitoring import DriftOptions

    now = now or timezone.now()
    deployment = policy.deployment
    MonitoringPolicy.objects.filter(id=policy.id).update(last_checked_at=now)
    try:
        report = run_drift_report(
            deployment,
            hours=policy.window_hours,
            trigger=trigger,
            options=DriftOptions(
                alpha=policy.alpha,
                share_threshold=policy.share_threshold,
                min_rows=policy.min_rows,
            ),
            alert=policy.action != MonitoringPolicy.Action.NOTHING,
        )
    except ServiceError as exc:  # no reference statistics, no served version...
        activity.record(deployment, Kind.DRIFT_CHECKED, f"no drift check: {exc.detail}")
        raise
    labels = labelled_rows(deployment, policy.window_hours)
    activity.record(
        deployment,
        Kind.DRIFT_CHECKED,
        f"{'drift' if report.dataset_drift else 'no drift'}: {report.drifted_share:.0%} of "
        f"the features drifted over {report.n_rows} rows (threshold "
        f"{policy.share_threshold:.0%}); {labels} labelled rows",
        details={
            "drifted_share": report.drifted_share,
            "dataset_drift": report.dataset_drift,
            "n_rows": report.n_rows,
            "labels": labels,
        },
        report=report,
    )
    decision = decide(policy, drifted=report.dataset_drift, labels=labels, now=now)
    if decision.skipped:
        activity.record(deployment, Kind.RETUNE_SKIPPED, decision.reason, report=report)
    elif decision.retune:
        start(policy, report, now)
    return decision


def start(policy: MonitoringPolicy, report: DriftReport, now: datetime) -> None:
    """Start the re-tune, counting it against the rate limit even when it cannot start (a
    data problem would fail again at the next check)."""
    from automl.monitoring import retune

    with transaction.atomic():
        # Taken under the row lock: two checks at once start one re-tune.
        locked = MonitoringPolicy.objects.select_for_update().get(id=policy.id)
        last = locked.last_retune_at
        if last is not None and now - last < retune_interval(locked):
            return
        MonitoringPolicy.objects.filter(id=policy.id).update(last_retune_at=now)
    deployment = policy.deployment
    try:
        job = retune.start_retune(policy, report)
    except ServiceError as exc:
        activity.record(
            deployment, Kind.RETUNE_SKIPPED, f"re-tune not started: {exc.detail}", report=report
        )
        return
    activity.record(
        deployment,
        Kind.RETUNE_STARTED,
        f"re-tune started as pipeline job {job.id} (drifted share "
        f"{report.drifted_share:.0%}): search, register as challenger, challenge",
        details={"job": job.id},
        job=job,
        report=report,
    )


def switched_off(deployment: Deployment, report: DriftReport) -> None:
    """A plain scheduled report that drifted on a deployment whose re-tuning policy is
    switched off: the log says a re-tune was skipped, and why."""
    policy = getattr(deployment, "monitoring_policy", None)
    if policy is None or policy.action != MonitoringPolicy.Action.RETUNE:
        return
    decision = decide(policy, drifted=report.dataset_drift, labels=0, now=timezone.now())
    if decision.skipped:
        activity.record(deployment, Kind.RETUNE_SKIPPED, decision.reason, report=report)


def check_due(now: datetime | None = None) -> dict[str, int]:
    """Check every enabled policy that is due (the beat's drift pass calls this)."""
    now = now or timezone.now()
    checked = failed = 0
    policies = MonitoringPolicy.objects.filter(enabled=True).select_related(
        "deployment", "deployment__owner"
    )
    for policy in policies:
        if not is_due(policy, now):
            continue
        try:
            check(policy, now=now)
            checked += 1
        except ServiceError as exc:
            activity.record(policy.deployment, Kind.DRIFT_CHECKED, f"no drift check: {exc.detail}")
            failed += 1
    return {"checked": checked, "failed": failed}

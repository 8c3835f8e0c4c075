"""Schedules: a job submission run again on a cron schedule, stored in the database and
checked by the existing Celery beat every minute (automl.run_schedules).

Why not django-celery-beat: beat here already runs one fixed set of periodic tasks; a
user's schedule is a row they own (404 to others, validated like a submission, with its
last job and error), and one periodic task that submits the due rows keeps beat's own
schedule static. Cron fields are Celery's `crontab` (the same syntax, its parser), read in
UTC; as in Celery, a day must match both day-of-month and day-of-week.

A run is claimed by moving `next_run_at` forward with a conditional UPDATE, so a beat
tick delivered twice, or two beats, submit it once. A schedule that was due several times
while beat was down runs once, then keeps its rhythm. A submission that fails (its data
set deleted, the owner at their job limit) is recorded in `last_error`; the schedule goes
on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone

from automl.errors import Invalid, ServiceError
from automl.jobs.models import Schedule

MAX_SCHEDULES = 50  # per user
RULE = 'five fields "minute hour day-of-month month day-of-week" (e.g. "30 2 * * *")'


def parse(cron: Any) -> crontab:
    """Celery's crontab of a five-field expression, or Invalid naming `cron`."""
    fields = cron.split() if isinstance(cron, str) else []
    if len(fields) != 5:
        raise Invalid(f"cron: {cron!r} is not {RULE}", {"cron": [RULE]})
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(minute, hour, day_of_week, day_of_month, month_of_year)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"cron: {exc}", {"cron": [str(exc)]}) from None


def next_run(cron: crontab, after: datetime) -> datetime:
    """The first minute strictly after `after` that the expression matches (UTC)."""
    start = (after.astimezone(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    day: date = start.date()
    for _ in range(366 * 8):  # 29 February on a given weekday comes round within 28 years
        if (
            day.month in cron.month_of_year
            and day.day in cron.day_of_month
            and day.isoweekday() % 7 in cron.day_of_week  # Celery: 0 is Sunday
        ):
            for hour in sorted(cron.hour):
                for minute in sorted(cron.minute):
                    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    if at >= start:
                        return at
        day += timedelta(days=1)
    raise Invalid("cron: it never matches a day", {"cron": ["matches no day"]})


def check_submission(owner: Any, job: Any):
    """The job body validated as POST /api/v1/jobs/ validates it (ValidationError)."""
    from automl.jobs.serializers import JobSubmitSerializer

    body = JobSubmitSerializer(data=job, context={"request": SimpleNamespace(user=owner)})
    body.is_valid(raise_exception=True)
    return body.validated_data


def submission_of(job) -> dict:
    """A stored job as the submission that makes it again (its config with every default;
    a warm start resolved at submission goes back to naming its job)."""
    config = dict(job.config)
    if isinstance(warm := config.pop("warm_start", None), dict) and warm.get("from_job"):
        config["warm_start_from"] = warm["from_job"]
    return {
        "kind": job.kind,
        "name": job.name,
        "dataset": job.dataset_id,
        "config": config,
        "resources": job.resources,
        "priority": job.priority,
    }


def create(owner: Any, *, name: str, cron: str, job: Any) -> Schedule:
    """A new schedule, its job checked now (a bad config is a 400 today, not a failed
    run tonight)."""
    expression = parse(cron)
    if Schedule.objects.filter(owner=owner).count() >= MAX_SCHEDULES:
        raise Invalid(
            f"you have {MAX_SCHEDULES} schedules already; delete one first",
            {"name": ["too many schedules"]},
        )
    check_submission(owner, job)
    return Schedule.objects.create(
        owner=owner,
        name=name,
        cron=" ".join(cron.split()),
        job=job,
        next_run_at=next_run(expression, timezone.now()),
    )


def update(schedule: Schedule, **changes: Any) -> Schedule:
    """Switch it on or off (`enabled`) or give it a new `cron`; the next run is computed
    from now when either changes."""
    cron = " ".join(changes.get("cron", schedule.cron).split())
    expression = parse(cron)
    schedule.enabled = changes.get("enabled", schedule.enabled)
    schedule.cron = cron
    schedule.next_run_at = next_run(expression, timezone.now())
    schedule.save(update_fields=["enabled", "cron", "next_run_at"])
    return schedule


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Submit every enabled schedule that is due (beat calls this each minute)."""
    now = now or timezone.now()
    submitted = failed = 0
    for schedule in Schedule.objects.filter(enabled=True, next_run_at__lte=now):
        following = next_run(parse(schedule.cron), now)
        claimed = Schedule.objects.filter(
            id=schedule.id, next_run_at=schedule.next_run_at, enabled=True
        ).update(next_run_at=following, last_run_at=now)
        if not claimed:
            continue  # another beat tick took it
        job, error = _submit(schedule)
        Schedule.objects.filter(id=schedule.id).update(
            last_job=job or schedule.last_job, last_error=error, runs=schedule.runs + 1
        )
        submitted, failed = submitted + (job is not None), failed + (job is None)
    return {"submitted": submitted, "failed": failed}


def _submit(schedule: Schedule):
    """(the job, "") or (None, why it was not submitted)."""
    from rest_framework.exceptions import ValidationError

    from automl.api import flatten_errors
    from automl.jobs.services import submit_job

    try:
        with transaction.atomic():
            data = check_submission(schedule.owner, schedule.job)
            return submit_job(schedule.owner, **data), ""
    except ValidationError as exc:
        fields = flatten_errors(exc.detail)
        return None, "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    except ServiceError as exc:
        return None, exc.detail

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.db import models


class SignInFailure(models.Model):
    """One failed sign-in (or one still being checked) for a username from an address.

    In the database, not the cache: every web process sees the same count (gunicorn's
    workers each had their own memory cache), and sign-in does not depend on the cache
    Redis being up."""

    key = models.CharField(max_length=64, db_index=True)  # sha256 of username and address
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["key", "at"])]


class Quota(models.Model):
    """A user's own limits, set by staff in the admin; an empty field keeps the default
    setting named in its help text."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota"
    )
    max_active_jobs = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Queued and running jobs at once (a submission past it is refused); "
        "empty: JOB_MAX_ACTIVE_PER_USER.",
    )
    max_running_jobs = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Jobs running at once (more wait in the queue); "
        "empty: JOB_MAX_RUNNING_PER_USER.",
    )
    max_trials_in_flight = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Trial runners at once over all running jobs, each job taking its "
        "parallelism (more wait in the queue); empty: JOB_MAX_TRIALS_IN_FLIGHT_PER_USER.",
    )
    max_parallelism = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A job's parallelism (a submission past it is refused); "
        "empty: JOB_MAX_PARALLELISM_PER_USER.",
    )

    def __str__(self) -> str:
        return f"quota of {self.user}"


@dataclass(frozen=True)
class Limits:
    """One user's limits: their Quota's fields where staff set them, the settings else."""

    active_jobs: int
    running_jobs: int
    trials_in_flight: int
    parallelism: int

    # Limit -> (the Quota field that sets it for one user, the setting that is its default).
    SOURCES: ClassVar[dict[str, tuple[str, str]]] = {
        "active_jobs": ("max_active_jobs", "JOB_MAX_ACTIVE_PER_USER"),
        "running_jobs": ("max_running_jobs", "JOB_MAX_RUNNING_PER_USER"),
        "trials_in_flight": ("max_trials_in_flight", "JOB_MAX_TRIALS_IN_FLIGHT_PER_USER"),
        "parallelism": ("max_parallelism", "JOB_MAX_PARALLELISM_PER_USER"),
    }

    @classmethod
    def of(cls, quota: Quota | None) -> Limits:
        values = {}
        for limit, (field, setting) in cls.SOURCES.items():
            own = getattr(quota, field, None)
            values[limit] = own if own is not None else getattr(settings, setting)
        return cls(**values)


def limits_for(user) -> Limits:
    return Limits.of(Quota.objects.filter(user=user).first())


def limits_for_users(user_ids) -> dict[int, Limits]:
    """Each user's limits in one query (the scheduler asks for every waiting user's)."""
    quotas = {q.user_id: q for q in Quota.objects.filter(user_id__in=list(user_ids))}
    return {user_id: Limits.of(quotas.get(user_id)) for user_id in user_ids}

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
    setting (JOB_MAX_ACTIVE_PER_USER)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota"
    )
    max_active_jobs = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Queued and running jobs at once; empty: JOB_MAX_ACTIVE_PER_USER.",
    )

    def __str__(self) -> str:
        return f"quota of {self.user}"


def active_jobs_limit(user) -> int:
    quota = Quota.objects.filter(user=user).first()
    if quota is not None and quota.max_active_jobs is not None:
        return quota.max_active_jobs
    return settings.JOB_MAX_ACTIVE_PER_USER

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

"""Every object belongs to a user: `Model.objects.owned_by(user)` is the one place that
says which, and views find objects through it with `get_object_or_404`, so another user's
object is a 404 (never a 403, which would tell them it exists)."""

from __future__ import annotations

from typing import Any

from django.db import models


class OwnedQuerySet(models.QuerySet):
    """The default manager's queryset of a model with an `owner` foreign key."""

    owner_field = "owner"

    def owned_by(self, user: Any) -> OwnedQuerySet:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(**{self.owner_field: user})

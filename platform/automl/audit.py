"""The audit log: who changed what, when, and from what to what, for jobs, trials, model
stages and deployments.

Entries are django-auditlog's LogEntry rows (its admin lists, searches and filters them),
written explicitly by the services that make a change, not by save() signals: most
changes here are conditional UPDATEs (lifecycle.py) that send no signal, and over the API
the user is known only inside the view (DRF authenticates there), so the services are
handed the actor. A change a worker makes (a job finishing) has no actor.
"""

from __future__ import annotations

from typing import Any

from auditlog.models import LogEntry
from django.db.models import Model, QuerySet

Action = LogEntry.Action


def record(
    instance: Model,
    actor: Any,
    changes: dict[str, list],
    action: int = Action.UPDATE,
) -> None:
    """One entry for `instance`: changes maps each field to [from, to] (JSON values)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    LogEntry.objects.log_create(
        instance, force_log=True, action=action, actor=user, changes=changes
    )


def history(instance: Model) -> QuerySet[LogEntry]:
    """The object's entries, newest first, with their actors."""
    return (
        LogEntry.objects.get_for_object(instance)
        .select_related("actor")
        .order_by("-timestamp", "-id")
    )


def rows(instance: Model, limit: int = 50) -> list[dict]:
    """The object's latest entries as a page shows them."""
    return [
        {
            "at": entry.timestamp,
            "actor": entry.actor.get_username() if entry.actor else "worker",
            "action": entry.get_action_display(),
            "changes": [
                (field, change[0], change[1])
                for field, change in (entry.changes_dict or {}).items()
            ],
        }
        for entry in history(instance)[:limit]
    ]

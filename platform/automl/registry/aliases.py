"""Registry aliases: movable names (`champion`, `challenger`, any name) for one version of
a registered model name, as MLflow's registry has them.

An alias points at one version of its (owner, name); setting it on another version moves
it. A deployment of that name may follow an alias (`Deployment.follows`): when the alias
moves, the traffic that went to the old version goes to the new one, in the same
transaction, through automl.serving.traffic (the one writer of routes), so the move is on
the deployment's rollback history and in its audit log like any other traffic change.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from automl import audit
from automl.errors import Conflict, Invalid, NotFound
from automl.registry import webhooks
from automl.registry.models import ModelAlias, ModelVersion

ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,49}")
ALIAS_RULE = "1-50 lower-case letters, digits, '-' or '_', starting with a letter"


def check_alias(alias: Any, field: str = "alias") -> str:
    """The alias name, or Invalid naming `field` (a number could be read as a version)."""
    if not isinstance(alias, str) or not ALIAS.fullmatch(alias):
        raise Invalid(
            f"{field}: {alias!r} is not an alias name ({ALIAS_RULE})", {field: [ALIAS_RULE]}
        )
    return alias


def resolve(owner: Any, name: str, alias: str) -> ModelVersion:
    """The version `alias` points at among the owner's versions of `name` (NotFound)."""
    found = ModelAlias.objects.filter(owner=owner, name=name, alias=alias).first()
    if found is None:
        raise NotFound(f"{name} has no alias {alias!r}", {"alias": ["no such alias"]})
    return found.version


def of_name(owner: Any, name: str) -> dict[str, int]:
    """Alias -> version id, for every alias of the owner's `name`."""
    rows = ModelAlias.objects.filter(owner=owner, name=name)
    return dict(rows.values_list("alias", "version_id"))


def set_alias(version: ModelVersion, alias: str, actor: Any = None) -> ModelAlias:
    """Point `alias` at `version` (creating it, or moving it from another version of the
    same name); deployments that follow it are re-routed. Audited on the version it
    points at now and on the one it left."""
    from automl.serving.traffic import follow_alias

    alias = check_alias(alias)
    with transaction.atomic():
        row = (
            ModelAlias.objects.select_for_update()
            .filter(owner=version.owner_id, name=version.name, alias=alias)
            .first()
        )
        previous = row.version if row else None
        if previous is not None and previous.id == version.id:
            return row
        if row is None:
            row = ModelAlias(owner_id=version.owner_id, name=version.name, alias=alias)
        row.version = version
        row.save()
        if previous is not None:
            audit.record(previous, actor, {f"alias {alias}": [previous.version, None]})
            follow_alias(row, previous, actor)
        audit.record(
            version,
            actor,
            {f"alias {alias}": [previous.version if previous else None, version.version]},
        )
        webhooks.emit(
            version.owner,
            webhooks.ALIAS_MOVED,
            {
                "model": version.name,
                "alias": alias,
                "version": version.version,
                "version_id": version.id,
                "previous_version": previous.version if previous else None,
            },
        )
    return row


def remove_alias(version: ModelVersion, alias: str, actor: Any = None) -> None:
    """Delete `alias` from `version`; refused (Conflict) while a deployment follows it."""
    from automl.serving.models import Deployment

    with transaction.atomic():
        row = ModelAlias.objects.filter(
            owner=version.owner_id, name=version.name, alias=alias, version=version
        ).first()
        if row is None:
            raise NotFound(f"{version} has no alias {alias!r}", {"alias": ["no such alias"]})
        followers = Deployment.objects.filter(
            owner=version.owner_id, model_name=version.name, follows=alias
        ).values_list("name", flat=True)
        if followers:
            raise Conflict(
                f"deployment {', '.join(sorted(followers))} follows {alias!r}; "
                "stop following it first",
                {"alias": ["followed by a deployment"]},
            )
        row.delete()
        audit.record(version, actor, {f"alias {alias}": [version.version, None]})

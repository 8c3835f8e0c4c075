"""Deployments and their traffic: creating one, its split (the Route rows) and shadow,
the rollback history, and its batching setting.

This is the only module that writes a deployment's routes. Each write also saves the
deployment (its `updated_at`), which is what the predict path's per-process cache of the
served versions is keyed by (automl.serving.predict).
"""

from __future__ import annotations

import random
import sys
from numbers import Real
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from automl import audit
from automl.errors import Conflict, Invalid, NotFound
from automl.registry.models import ModelAlias, ModelVersion
from automl.serving import batching as batching_
from automl.serving.loader import warm
from automl.serving.models import Deployment, Route

HISTORY_LIMIT = 50


def deployments_serving(version: ModelVersion, *, rollback: bool = False) -> list[str]:
    """Names of the owner's deployments whose traffic or shadow uses `version`; with
    `rollback`, also those whose rollback (the last split in their history) would."""
    deployments = Deployment.objects.filter(owner=version.owner_id, model_name=version.name)
    names = set(
        deployments.filter(Q(route_set__version=version) | Q(shadow=version)).values_list(
            "name", flat=True
        )
    )
    if rollback:  # a name's deployments are few: their histories are read here
        for name, history in deployments.values_list("name", "history"):
            last = history[-1] if history else {"routes": [], "shadow": None}
            if last["shadow"] == version.id or any(
                r["version"] == version.id for r in last["routes"]
            ):
                names.add(name)
    return sorted(names)


def _version_field(
    owner, model_name: str, value: Any, field: str, errors: dict[str, list[str]]
) -> ModelVersion | None:
    version = None
    if type(value) is int:
        version = ModelVersion.objects.filter(owner=owner, id=value).first()
    if version is None:
        errors[field] = [f"{value!r} is not the id of one of your model versions"]
    elif version.name != model_name:
        errors[field] = [f"version {value} is a version of {version.name!r}, not {model_name!r}"]
    elif version.stage == ModelVersion.Stage.ARCHIVED:
        errors[field] = [f"version {value} is archived; archived versions are not served"]
    elif reason := version.refusal("deploy"):
        errors[field] = [f"version {value} cannot be served: {reason}"]
    else:
        return version
    return None


def validate_traffic(owner, model_name: str, routes: Any, shadow: Any) -> tuple[list, int | None]:
    """Normalised routes and shadow id, or Invalid naming each bad field."""
    errors: dict[str, list[str]] = {}
    clean: list[dict] = []
    if not isinstance(routes, list) or not routes:
        errors["routes"] = ['a non-empty list of {"version": id, "weight": number}']
    else:
        for i, route in enumerate(routes):
            if not isinstance(route, dict) or set(route) - {"version", "weight"}:
                errors[f"routes.{i}"] = ['must be {"version": id, "weight": number}']
                continue
            weight = route.get("weight", 1)
            if (
                not isinstance(weight, Real)
                or isinstance(weight, bool)
                or not 0 < weight <= sys.float_info.max
            ):  # NaN, inf, huge ints too
                errors[f"routes.{i}.weight"] = ["must be a positive number"]
            version = _version_field(
                owner, model_name, route.get("version"), f"routes.{i}.version", errors
            )
            if version is not None and f"routes.{i}.weight" not in errors:
                clean.append({"version": version.id, "weight": float(weight)})
        ids = [r["version"] for r in clean]
        if len(set(ids)) != len(ids):
            errors["routes"] = ["each version may appear once"]
    shadow_id = None
    if shadow is not None:
        version = _version_field(owner, model_name, shadow, "shadow", errors)
        if version is not None:
            shadow_id = version.id
            if shadow_id in [r["version"] for r in clean]:
                errors["shadow"] = ["the shadow version must not also take traffic"]
    if errors:
        raise Invalid.from_fields(errors)
    return clean, shadow_id


def validate_batching(value: Any) -> dict | None:
    """A deployment's batching setting normalised (None: off), or Invalid naming each
    bad key."""
    if value is None:
        return None
    shape = '{"max_batch_rows": integer, "max_wait_ms": number} or null'
    if not isinstance(value, dict):
        raise Invalid(f"batching: must be {shape}", {"batching": [f"must be {shape}"]})
    errors: dict[str, list[str]] = {}
    if extra := sorted(set(value) - {"max_batch_rows", "max_wait_ms"}):
        errors["batching"] = [f"unknown keys: {', '.join(map(str, extra))}"]
    rows, wait = value.get("max_batch_rows"), value.get("max_wait_ms")
    if type(rows) is not int or not 2 <= rows <= batching_.MAX_BATCH_ROWS:
        errors["batching.max_batch_rows"] = [
            f"an integer from 2 to {batching_.MAX_BATCH_ROWS} (rows one model call takes)"
        ]
    # A range check alone: it also refuses NaN and infinity, and an int too large for a
    # float (math.isfinite would raise on it).
    if (
        not isinstance(wait, Real)
        or isinstance(wait, bool)
        or not 0 <= wait <= batching_.MAX_WAIT_MS
    ):
        errors["batching.max_wait_ms"] = [
            f"a number from 0 to {batching_.MAX_WAIT_MS:g} (how long a request waits for others)"
        ]
    if errors:
        raise Invalid.from_fields(errors)
    return {"max_batch_rows": rows, "max_wait_ms": float(wait)}


def _write_routes(deployment: Deployment, routes: list[dict]) -> None:
    """Replace the deployment's routes; once committed, its versions (and shadow) are
    loaded in the background so its first request is fast (loader.warm)."""
    deployment.route_set.all().delete()
    Route.objects.bulk_create(
        Route(deployment=deployment, version_id=r["version"], weight=r["weight"]) for r in routes
    )
    ids = [r["version"] for r in routes]
    if deployment.shadow_id is not None:
        ids.append(deployment.shadow_id)
    versions = list(ModelVersion.objects.filter(id__in=ids))
    transaction.on_commit(lambda: warm(versions))


def create_deployment(
    owner,
    *,
    name: str,
    model_name: str,
    routes: Any,
    shadow: Any = None,
    cache_ttl_s: int | None = None,
    log_predictions: bool = True,
    batching: Any = None,
    follows: str = "",
) -> Deployment:
    """A new deployment of `model_name`; with `follows` (an alias of the name) and no
    routes, all traffic goes to the alias's version."""
    if Deployment.objects.filter(owner=owner, name=name).exists():
        raise Invalid(
            f"you already have a deployment named {name!r}", {"name": ["already in use"]}
        )
    batching = validate_batching(batching)
    if follows and routes is None:
        routes = [{"version": _alias_version(owner, model_name, follows).id, "weight": 100}]
    routes, shadow_id = validate_traffic(owner, model_name, routes, shadow)
    if follows:
        _check_follows(owner, model_name, follows, routes)
    with transaction.atomic():
        deployment = Deployment.objects.create(
            owner=owner,
            name=name,
            model_name=model_name,
            shadow_id=shadow_id,
            cache_ttl_s=cache_ttl_s,
            log_predictions=log_predictions,
            batching=batching,
            follows=follows,
        )
        _write_routes(deployment, routes)
        audit.record(
            deployment,
            owner,
            {"routes": [None, routes], **({"follows": [None, follows]} if follows else {})},
            audit.Action.CREATE,
        )
        _announce(deployment, "created")
    return deployment


def _announce(deployment: Deployment, change: str) -> None:
    """The deployment_changed webhook event (automl.registry.webhooks) of a traffic change."""
    from automl.registry import webhooks

    webhooks.emit(
        deployment.owner,
        webhooks.DEPLOYMENT_CHANGED,
        {
            "deployment": deployment.name,
            "deployment_id": deployment.id,
            "model": deployment.model_name,
            "change": change,
            "routes": deployment.routes,
            "shadow": deployment.shadow_id,
            "follows": deployment.follows or None,
        },
    )


def _alias_version(owner, model_name: str, alias: Any) -> ModelVersion:
    from automl.registry import aliases

    try:
        return aliases.resolve(owner, model_name, aliases.check_alias(alias, "follows"))
    except NotFound:
        raise Invalid(
            f"follows: {model_name} has no alias {alias!r}", {"follows": ["no such alias"]}
        ) from None


def _check_follows(owner, model_name: str, alias: str, routes: list[dict]) -> None:
    """Following an alias re-routes the traffic of its version, so that version must take
    some (else moving the alias would change nothing)."""
    version = _alias_version(owner, model_name, alias)
    if version.id not in [r["version"] for r in routes]:
        raise Invalid(
            f"follows: {alias!r} points at {version}, which takes none of the traffic",
            {"follows": [f"route some traffic to version {version.id} ({alias})"]},
        )


def set_follows(deployment: Deployment, alias: str, actor=None) -> Deployment:
    """Follow a registry alias of the deployment's model name ("": fixed versions)."""
    if alias:
        _check_follows(deployment.owner, deployment.model_name, alias, deployment.routes)
    if alias != deployment.follows:
        audit.record(deployment, actor, {"follows": [deployment.follows or None, alias or None]})
        deployment.follows = alias
        deployment.save(update_fields=["follows", "updated_at"])
        _announce(deployment, "follows")
    return deployment


def follow_alias(alias: ModelAlias, previous: ModelVersion, actor=None) -> list[Deployment]:
    """The alias moved from `previous` to `alias.version`: in every deployment that follows
    it, the traffic that went to `previous` goes to the new version (added to the new
    version's own share if it had one: a canary becomes the whole). Conflict if a follower
    cannot serve the new version; the caller's transaction then moves nothing."""
    followers = Deployment.objects.filter(
        owner=alias.owner_id, model_name=alias.name, follows=alias.alias
    ).prefetch_related("route_set")
    moved = []
    for deployment in followers:
        weights: dict[int, float] = {}
        for route in deployment.routes:
            version = alias.version_id if route["version"] == previous.id else route["version"]
            weights[version] = weights.get(version, 0.0) + route["weight"]
        routes = [{"version": v, "weight": w} for v, w in weights.items()]
        shadow = None if deployment.shadow_id == alias.version_id else deployment.shadow_id
        try:
            moved.append(set_traffic(deployment, routes, shadow, actor))
        except Invalid as exc:
            raise Conflict(
                f"{deployment} follows {alias.alias!r} and cannot serve "
                f"{alias.version}: {exc.detail}",
                {"alias": [f"deployment {deployment.name} cannot serve that version"]},
            ) from None
    return moved


def set_batching(deployment: Deployment, value: Any, actor=None) -> Deployment:
    """Turn dynamic batching on (with its setting) or off (None)."""
    batching = validate_batching(value)
    audit.record(deployment, actor, {"batching": [deployment.batching, batching]})
    deployment.batching = batching
    deployment.save(update_fields=["batching", "updated_at"])
    return deployment


def set_traffic(deployment: Deployment, routes: Any, shadow: Any, actor=None) -> Deployment:
    """Replace the split and shadow; the previous pair goes onto the rollback history."""
    routes, shadow_id = validate_traffic(deployment.owner, deployment.model_name, routes, shadow)
    with transaction.atomic():
        current = Deployment.objects.select_for_update().get(id=deployment.id)
        if current.routes == routes and current.shadow_id == shadow_id:
            return current
        entry = {
            "routes": current.routes,
            "shadow": current.shadow_id,
            "until": timezone.now().isoformat(),
        }
        current.history = [*current.history, entry][-HISTORY_LIMIT:]
        audit.record(
            current,
            actor,
            {"routes": [current.routes, routes], "shadow": [current.shadow_id, shadow_id]},
        )
        current.shadow_id = shadow_id
        _write_routes(current, routes)
        current.save(update_fields=["shadow", "history", "updated_at"])
        _announce(current, "traffic")
        return current


def rollback(deployment: Deployment, actor=None) -> Deployment:
    """Restore the previous split and shadow (one step back in the history)."""
    with transaction.atomic():
        current = Deployment.objects.select_for_update().get(id=deployment.id)
        if not current.history:
            raise Conflict(f"{current} has no earlier traffic split to go back to")
        previous = current.history[-1]
        try:
            routes, shadow_id = validate_traffic(
                current.owner, current.model_name, previous["routes"], previous["shadow"]
            )
        except Invalid as exc:
            raise Conflict(
                f"the previous split cannot be served again: {exc.detail}", exc.fields
            ) from None
        audit.record(
            current,
            actor,
            {
                "routes": [current.routes, routes],
                "shadow": [current.shadow_id, shadow_id],
                "rollback": [None, "to the previous split"],
            },
        )
        current.shadow_id = shadow_id
        current.history = current.history[:-1]
        _write_routes(current, routes)
        current.save(update_fields=["shadow", "history", "updated_at"])
        _announce(current, "rollback")
        return current


def choose_version(routes: list[dict], rng: random.Random) -> int:
    """A weighted random choice among the routes."""
    return rng.choices([r["version"] for r in routes], [r["weight"] for r in routes])[0]

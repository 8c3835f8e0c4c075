"""Deployments: traffic rules, rollback, and the predict path (cache, log, shadow)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import secrets
import sys
import threading
import time
from datetime import timedelta
from numbers import Real
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automl.errors import Conflict, Invalid, ServiceError
from automl.registry.models import ModelVersion
from automl.serving import batching as batching_
from automl.serving import cache as result_cache
from automl.serving.loader import model_cache
from automl.serving.models import Deployment, PredictionLog

HISTORY_LIMIT = 50
MAX_REPORTED_ROWS = 10  # bad rows named in one 400
SERVED_VERSIONS_TTL_S = 30.0
SERVED_VERSIONS_MAX = 1000  # deployments' version sets kept per process


# --- traffic rules


def deployments_serving(version: ModelVersion) -> list[str]:
    """Names of the owner's deployments whose traffic or shadow uses `version`."""
    deployments = Deployment.objects.filter(owner=version.owner_id, model_name=version.name)
    return [
        d.name for d in deployments if version.id in d.version_ids or d.shadow_id == version.id
    ]


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
    """A deployment's batching setting normalised (None: off), or Invalid naming
    each bad key."""
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
) -> Deployment:
    if Deployment.objects.filter(owner=owner, name=name).exists():
        raise Invalid(
            f"you already have a deployment named {name!r}", {"name": ["already in use"]}
        )
    batching = validate_batching(batching)
    routes, shadow_id = validate_traffic(owner, model_name, routes, shadow)
    return Deployment.objects.create(
        owner=owner,
        name=name,
        model_name=model_name,
        routes=routes,
        shadow_id=shadow_id,
        cache_ttl_s=cache_ttl_s,
        log_predictions=log_predictions,
        batching=batching,
    )


def set_batching(deployment: Deployment, value: Any) -> Deployment:
    """Turn dynamic batching on (with its setting) or off (None)."""
    deployment.batching = validate_batching(value)
    deployment.save(update_fields=["batching", "updated_at"])
    return deployment


def set_traffic(deployment: Deployment, routes: Any, shadow: Any) -> Deployment:
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
        current.routes, current.shadow_id = routes, shadow_id
        current.save(update_fields=["routes", "shadow", "history", "updated_at"])
        return current


def rollback(deployment: Deployment) -> Deployment:
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
        current.routes, current.shadow_id = routes, shadow_id
        current.history = current.history[:-1]
        current.save(update_fields=["routes", "shadow", "history", "updated_at"])
        return current


def choose_version(routes: list[dict], rng: random.Random) -> int:
    """A weighted random choice among the routes."""
    return rng.choices([r["version"] for r in routes], [r["weight"] for r in routes])[0]


# --- inputs


def _is_number(value: Any) -> bool:
    """A JSON number a float can hold (not a 400-digit integer, not 1e999 or NaN), or null."""
    if value is None:
        return True
    if not isinstance(value, Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _is_text(value: Any) -> bool:
    """A string the prediction log can store: no NUL, no lone surrogate."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_inputs(
    inputs: Any, features: list[str] | None, n_features: int | None, allow_text: bool
) -> np.ndarray:
    """JSON rows (objects keyed by feature name) or arrays -> a 2-D array in model order.

    Missing or extra names, wrong lengths and non-numbers are an Invalid naming them.
    """
    if not isinstance(inputs, list) or not inputs:
        raise Invalid(
            "inputs: a non-empty list of rows is required",
            {"inputs": ["a non-empty list of rows (objects or arrays)"]},
        )
    if len(inputs) > settings.SERVING_MAX_ROWS:
        raise Invalid(
            f"inputs: at most {settings.SERVING_MAX_ROWS} rows per request",
            {"inputs": [f"at most {settings.SERVING_MAX_ROWS} rows"]},
        )
    named = isinstance(inputs[0], dict)
    errors: dict[str, list[str]] = {}
    rows: list[list] = []
    if named and features is None:
        raise Invalid(
            "inputs: this model has no recorded feature names; send arrays",
            {"inputs": ["send arrays: the model's feature names are unknown"]},
        )
    wanted = set(features or ())
    for i, row in enumerate(inputs):
        if len(errors) >= MAX_REPORTED_ROWS:
            break
        field = f"inputs.{i}"
        if named:
            if not isinstance(row, dict):
                errors[field] = ["every row must be an object, as the first one is"]
                continue
            messages = []
            if missing := [f for f in features if f not in row]:
                messages.append(f"missing features: {', '.join(missing)}")
            if extra := [k for k in row if k not in wanted]:
                messages.append(f"unknown features: {', '.join(map(str, extra))}")
            if messages:
                errors[field] = messages
                continue
            values = [row[f] for f in features]
        else:
            if not isinstance(row, list):
                errors[field] = ["every row must be an array, as the first one is"]
                continue
            if n_features is not None and len(row) != n_features:
                errors[field] = [f"has {len(row)} values; the model takes {n_features}"]
                continue
            values = row
        names = features if named else range(len(values))
        for name, value in zip(names, values, strict=True):
            if not _is_number(value) and not (allow_text and _is_text(value)):
                kind = "a finite number or text" if allow_text else "a finite number"
                errors[f"{field}.{name}"] = [f"must be {kind}, not {json.dumps(value)[:40]}"]
        rows.append(values)
    if errors:
        raise Invalid.from_fields(errors)
    if len({len(r) for r in rows}) > 1:
        raise Invalid("inputs: rows differ in length", {"inputs": ["rows differ in length"]})
    if all(_is_number(v) for v in itertools.chain.from_iterable(rows)):
        return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
    return np.array(rows, dtype=object)


def _input_hash(X: np.ndarray) -> str:
    text = json.dumps([str(X.dtype), X.tolist()], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# --- predict


_writes = itertools.count(1)
_prune_lock = threading.Lock()


_served: dict[tuple, tuple[float, dict[int, ModelVersion]]] = {}
_served_lock = threading.Lock()


def _served_versions(deployment: Deployment) -> dict[int, ModelVersion]:
    """The deployment's traffic and shadow versions by id, read once per process and
    SERVED_VERSIONS_TTL_S rather than once per request.

    Keyed by the routes and shadow themselves, so a traffic change (here or in another
    process) is seen by the next request; what predict reads of a version (files, features)
    never changes; the expiry bounds how long a version row deleted by hand stays served.
    """
    ids = (*deployment.version_ids, deployment.shadow_id)
    key = (deployment.id, deployment.created_at, ids)  # ids repeat in a recreated database
    found = _served.get(key)
    if found is not None and found[0] > time.monotonic():
        return found[1]
    versions = {v.id: v for v in ModelVersion.objects.filter(id__in=[i for i in ids if i])}
    if set(deployment.version_ids) <= set(versions):
        with _served_lock:
            if len(_served) >= SERVED_VERSIONS_MAX:
                _served.clear()
            _served[key] = (time.monotonic() + SERVED_VERSIONS_TTL_S, versions)
    return versions


def _ttl(deployment: Deployment) -> int:
    ttl = deployment.cache_ttl_s
    return settings.SERVING_CACHE_TTL_S if ttl is None else ttl


def _answer(
    version: ModelVersion, X: np.ndarray, ttl: int, batching: dict | None = None
) -> tuple[dict, bool]:
    """The model's output for X, from the result cache when it holds it; with a batching
    setting, computed in one model call with concurrent requests' rows."""
    # The storage key (a uuid) rather than the id alone: ids repeat when a database is
    # recreated, and a long-lived Redis must not answer for a model it never saw.
    key = f"{version.storage_key}:{_input_hash(X)}" if ttl > 0 else None
    if key is not None and (hit := result_cache.get(key)) is not None:
        return hit, True
    model = model_cache().get(version)
    try:
        out = (
            model.predict(X)
            if batching is None
            else batching_.predict(model, model.prepare(X), batching)
        )
    except (ValueError, TypeError) as exc:
        # e.g. a category the preprocessing cannot read: the caller's input, not our bug
        raise Invalid(
            f"inputs: the model could not use them ({exc})", {"inputs": [str(exc)[:300]]}
        ) from exc
    _refuse_non_finite(out)
    if key is not None:
        result_cache.put(key, out, ttl)
    return out, False


def _refuse_non_finite(out: dict) -> None:
    """A NaN or infinite answer is the inputs' doing (a value too large for the model's
    arithmetic, a missing value the model cannot fill): an error naming the rows, never an
    answer stored in the cache or the log (JSON cannot hold it)."""
    bad = set()
    for key in ("predictions", "probabilities"):
        values = out.get(key)
        if values is None:
            continue
        array = np.asarray(values)
        if array.dtype.kind in "fc":
            finite = np.isfinite(array)
            rows = finite if finite.ndim == 1 else finite.all(axis=tuple(range(1, finite.ndim)))
            bad.update(np.flatnonzero(~rows).tolist())
    if bad:
        rows = sorted(bad)[:MAX_REPORTED_ROWS]
        raise ServingError(
            f"inputs: the model's answer for rows {rows} is not a finite number (a value "
            "too large for it, or a missing value it cannot fill)",
            {f"inputs.{i}": ["the model's answer is not a finite number"] for i in rows},
        )


def predict(
    deployment: Deployment, inputs: Any, seed: Any = None, *, explain: bool = False
) -> dict:
    """Answer one predict request; log it (one bounded insert). With explain, the body
    also holds each row's per-feature attributions (automl.evaluation)."""
    start = time.perf_counter()
    rng = random.Random(secrets.randbits(64) if seed is None else seed)
    versions = _served_versions(deployment)
    if missing := set(deployment.version_ids) - set(versions):
        raise Conflict(f"version {sorted(missing)} no longer exists; change the traffic")
    version = versions[choose_version(deployment.routes, rng)]
    X = parse_inputs(inputs, version.features, version.n_features, version.has_preprocessing)
    ttl = _ttl(deployment)
    out, cached = _answer(version, X, ttl, deployment.batching)
    body = {**out, "version": version.id, "deployment": deployment.id, "cached": cached}
    if explain:
        from automl.evaluation.services import explain_answer

        body["explanations"] = explain_answer(model_cache().get(version), X, version)
    shadow_out = None
    if deployment.shadow_id is not None:
        shadow = versions[deployment.shadow_id]
        try:
            shadow_X = parse_inputs(
                inputs, shadow.features, shadow.n_features, shadow.has_preprocessing
            )
            shadow_out, _ = _answer(shadow, shadow_X, ttl)
        except ServiceError as exc:  # the shadow's trouble is logged, never the caller's
            shadow_out = {"error": exc.detail}
    latency_ms = (time.perf_counter() - start) * 1000
    if deployment.log_predictions:
        log_prediction(deployment, version, X, out, shadow_out, latency_ms, cached)
    return body


def _head(values: Any, n: int) -> Any:
    return values[:n] if isinstance(values, list) else values


def log_prediction(
    deployment: Deployment,
    version: ModelVersion,
    X: np.ndarray,
    out: dict,
    shadow_out: dict | None,
    latency_ms: float,
    cached: bool,
) -> None:
    n = settings.SERVING_LOG_MAX_ROWS
    # JSON has no NaN (Postgres refuses it): missing values are logged as null.
    head = X[:n]
    X_head = (head if head.dtype == object else np.where(head != head, None, head)).tolist()
    PredictionLog.objects.create(
        deployment=deployment,
        version=version,
        n_rows=len(X),
        inputs=X_head,
        outputs={k: _head(v, n) for k, v in out.items() if k != "classes"},
        shadow_version_id=deployment.shadow_id,
        shadow_outputs=None
        if shadow_out is None
        else {k: _head(v, n) for k, v in shadow_out.items() if k != "classes"},
        latency_ms=latency_ms,
        cached=cached,
    )
    # Retention is enforced every SERVING_LOG_PRUNE_EVERY writes of a process, in bounded
    # deletes, so no single response pays for a long backlog.
    if next(_writes) % settings.SERVING_LOG_PRUNE_EVERY == 0 and _prune_lock.acquire(False):
        try:
            prune_prediction_logs(limit=settings.SERVING_LOG_PRUNE_BATCH)
        finally:
            _prune_lock.release()


def prune_prediction_logs(limit: int | None = None) -> int:
    """Delete log rows past the retention: older than SERVING_LOG_RETENTION_DAYS, or beyond
    the newest SERVING_LOG_MAX_ENTRIES of their deployment. At most `limit` rows a call."""
    cutoff = timezone.now() - timedelta(days=settings.SERVING_LOG_RETENTION_DAYS)
    doomed = list(
        PredictionLog.objects.filter(created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    keep = settings.SERVING_LOG_MAX_ENTRIES
    for deployment_id in (
        PredictionLog.objects.values_list("deployment", flat=True).order_by().distinct()
    ):
        if limit is not None and len(doomed) >= limit:
            break
        newest = (
            PredictionLog.objects.filter(deployment=deployment_id)
            .order_by("-id")
            .values_list("id", flat=True)[keep : keep + 1]
        )
        if boundary := list(newest):
            older = (
                PredictionLog.objects.filter(deployment=deployment_id, id__lte=boundary[0])
                .order_by("id")
                .values_list("id", flat=True)
            )
            doomed.extend(older[: None if limit is None else limit - len(doomed)])
    if not doomed:
        return 0
    deleted, _ = PredictionLog.objects.filter(id__in=doomed).delete()
    return deleted

"""The predict path: choose a version by the split, read the rows, answer (from the
result cache, or the model, batched when the deployment says so), the shadow too, log.

A request costs one deployment read; the served versions and routes are read once per
process and SERVED_VERSIONS_TTL_S, keyed by the deployment's `updated_at`, which every
traffic change sets (automl.serving.traffic).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from typing import Any

import numpy as np
from django.conf import settings

from automl.errors import Conflict, Invalid, ServiceError
from automl.registry.models import ModelVersion
from automl.serving import batching as batching_
from automl.serving import cache as result_cache
from automl.serving.inputs import MAX_REPORTED_ROWS, input_hash, parse_inputs
from automl.serving.loader import model_cache
from automl.serving.logs import log_prediction
from automl.serving.models import Deployment, Route
from automl.serving.traffic import choose_version
from workers.models.spec import ignored_columns

SERVED_VERSIONS_TTL_S = 30.0
SERVED_VERSIONS_MAX = 1000  # deployments' version sets kept per process


_SERVED: dict[tuple, tuple[float, list[dict], dict[int, ModelVersion]]] = {}
_SERVED_LOCK = threading.Lock()


def _served(deployment: Deployment) -> tuple[list[dict], dict[int, ModelVersion]]:
    """The deployment's routes, and its traffic and shadow versions by id, read once per
    process and SERVED_VERSIONS_TTL_S rather than once per request.

    Keyed by the deployment's `updated_at`, which every change of its routes or shadow
    sets, so a traffic change (here or in another process) is seen by the next request;
    what predict reads of a version (files, features) never changes, and a routed version
    cannot be deleted (PROTECT).
    """
    key = (deployment.id, deployment.created_at, deployment.updated_at, deployment.shadow_id)
    found = _SERVED.get(key)
    if found is not None and found[0] > time.monotonic():
        return found[1], found[2]
    routes = list(Route.objects.filter(deployment=deployment).select_related("version"))
    versions = {r.version_id: r.version for r in routes}
    if deployment.shadow_id is not None:
        versions[deployment.shadow_id] = ModelVersion.objects.get(id=deployment.shadow_id)
    split = [{"version": r.version_id, "weight": r.weight} for r in routes]
    with _SERVED_LOCK:
        if len(_SERVED) >= SERVED_VERSIONS_MAX:
            _SERVED.clear()
        _SERVED[key] = (time.monotonic() + SERVED_VERSIONS_TTL_S, split, versions)
    return split, versions


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
    key = f"{version.storage_key}:{input_hash(X)}" if ttl > 0 else None
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
        raise Invalid(
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
    routes, versions = _served(deployment)
    if not routes:  # only a migrated deployment whose versions were all gone
        raise Conflict(f"{deployment} routes its traffic to no version; set its routes")
    version = versions[choose_version(routes, rng)]
    X = parse_inputs(
        inputs,
        version.features,
        version.n_features,
        version.has_preprocessing,
        ignored_columns(version.spec or {}),
    )
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
                inputs,
                shadow.features,
                shadow.n_features,
                shadow.has_preprocessing,
                ignored_columns(shadow.spec or {}),
            )
            shadow_out, _ = _answer(shadow, shadow_X, ttl)
        except ServiceError as exc:  # the shadow's trouble is logged, never the caller's
            shadow_out = {"error": exc.detail}
    latency_ms = (time.perf_counter() - start) * 1000
    if deployment.log_predictions:
        log_prediction(deployment, version, X, out, shadow_out, latency_ms, cached)
    return body

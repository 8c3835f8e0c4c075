"""Validated search spaces -> Optuna suggestions, with conditional params flattened.

A flat parameter name is the spec's name, prefixed by "<choice>." for every categorical
choice it hangs under: {"model": {..., "conditional": {"mlp": {"lr": ...}}}} yields the
params "model" and "mlp.lr".
"""

from __future__ import annotations

import json
import math

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

MAX_GRID_POINTS = 100_000


def choice_key(choice: object) -> str:
    """How a categorical choice is spelled in `conditional` keys and flat param names."""
    return choice if isinstance(choice, str) else json.dumps(choice)


def _distribution(spec: dict) -> BaseDistribution:
    kind = spec["type"]
    if kind == "float":
        return FloatDistribution(spec["low"], spec["high"], log=spec["log"], step=spec["step"])
    if kind == "int":
        return IntDistribution(spec["low"], spec["high"], log=spec["log"], step=spec["step"] or 1)
    if kind == "fixed":
        return CategoricalDistribution([spec["value"]])
    return CategoricalDistribution(spec["choices"])


def _sample(trial: optuna.Trial, name: str, spec: dict) -> object:
    kind = spec["type"]
    if kind == "float":
        return trial.suggest_float(
            name, spec["low"], spec["high"], log=spec["log"], step=spec["step"]
        )
    if kind == "int":
        return trial.suggest_int(
            name, spec["low"], spec["high"], log=spec["log"], step=spec["step"] or 1
        )
    if kind == "fixed":
        # A one-choice categorical keeps fixed values in trial.params, so records round-trip.
        return trial.suggest_categorical(name, [spec["value"]])
    return trial.suggest_categorical(name, spec["choices"])


def suggest(trial: optuna.Trial, space: dict, prefix: str = "") -> dict:
    """Sample every active parameter; returns flat params ("<choice>.<param>" when nested)."""
    params: dict = {}
    for name, spec in space.items():
        value = _sample(trial, prefix + name, spec)
        params[prefix + name] = value
        sub = spec.get("conditional", {}).get(choice_key(value))
        if sub:
            params.update(suggest(trial, sub, f"{prefix}{choice_key(value)}."))
    return params


def distributions(space: dict, params: dict, prefix: str = "") -> dict[str, BaseDistribution]:
    """Distributions of the params present in `params` (for optuna.trial.create_trial)."""
    out: dict[str, BaseDistribution] = {}
    for name, spec in space.items():
        if prefix + name not in params:
            continue
        out[prefix + name] = _distribution(spec)
        key = choice_key(params[prefix + name])
        sub = spec.get("conditional", {}).get(key)
        if sub:
            out.update(distributions(sub, params, f"{prefix}{key}."))
    return out


def flat_specs(space: dict, prefix: str = "", group: str | None = None) -> dict[str, tuple]:
    """Every parameter a trial of `space` may have: flat name -> (group, spec), in the
    space's order. The group is the top-level choice a parameter hangs under ("svm" for
    "svm.C" under model: auto), "" for a parameter every trial has."""
    out: dict[str, tuple] = {}
    for name, spec in space.items():
        out[prefix + name] = (group or "", spec)
        for key, sub in (spec.get("conditional") or {}).items():
            out.update(flat_specs(sub, f"{prefix}{key}.", key if group is None else group))
    return out


def family_params(params: dict, family: str | None = None) -> dict:
    """A family's own params: strip "<family>." (model "auto") and any choice prefixes."""
    if family is not None:
        head = f"{family}."
        params = {k[len(head) :]: v for k, v in params.items() if k.startswith(head)}
    return {name.rsplit(".", 1)[-1]: value for name, value in params.items()}


def grid_values(
    space: dict, path: str = "search_space", prefix: str = ""
) -> tuple[dict[str, list], dict[str, str]]:
    """Every flat param's values for optuna's GridSampler, and {field path: problem}.

    Conditional params are gridded too (a grid point sets values that its branch ignores),
    so the grid is the product over every flat param, which is what GridSampler walks.
    """
    values: dict[str, list] = {}
    problems: dict[str, str] = {}
    for name, spec in space.items():
        kind, field = spec["type"], f"{path}.{name}"
        if kind == "fixed":
            values[prefix + name] = [spec["value"]]
        elif kind == "categorical":
            values[prefix + name] = list(spec["choices"])
            for key, sub in spec.get("conditional", {}).items():
                sub_values, sub_problems = grid_values(
                    sub, f"{field}.conditional.{key}", f"{prefix}{key}."
                )
                values.update(sub_values)
                problems.update(sub_problems)
        elif kind == "float" and spec["step"] is None:
            problems[f"{field}.step"] = "the grid sampler needs a step for float parameters"
        else:
            low, step = spec["low"], spec["step"] or 1
            # Bounds near ±1e308 are each finite, but their span (or span/step) may not be.
            span = (spec["high"] - low) / step
            count = math.floor(span + 1e-9) + 1 if math.isfinite(span) else math.inf
            if count > MAX_GRID_POINTS:  # don't build a huge list just to refuse it
                problems[field] = (
                    f"has {count} values; the grid sampler allows fewer"
                    if math.isfinite(count)
                    else "spans more values than the grid sampler allows"
                )
                continue
            values[prefix + name] = [low + i * step for i in range(count)]
    return values, problems


def grid_size(values: dict[str, list]) -> int:
    """The number of points GridSampler would walk."""
    return math.prod(len(v) for v in values.values())

"""Validated search spaces -> Optuna suggestions, with conditional params flattened."""

from __future__ import annotations

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from workers.hpo.config import choice_key


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


def family_params(params: dict, family: str | None = None) -> dict:
    """A family's own params: strip "<family>." (model "auto") and any choice prefixes."""
    if family is not None:
        head = f"{family}."
        params = {k[len(head) :]: v for k, v in params.items() if k.startswith(head)}
    return {name.rsplit(".", 1)[-1]: value for name, value in params.items()}

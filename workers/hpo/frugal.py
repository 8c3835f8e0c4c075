"""Cost-frugal starts for a time-budgeted search (as FLAML does): before the sampler takes
over, one trial per family of a `model` choice, cheapest family first, each at the low end
of its fidelity params (trees, iterations, epochs) and the middle of the others. A short
budget so always holds a cheap model of every family it can afford, and the sampler learns
from them where the expensive families are worth their cost.
"""

from __future__ import annotations

import math

from workers.hpo.families import FAMILIES
from workers.hpo.space import choice_key

# Of the budget, the share the search may use: the rest is kept for refitting the best
# trial on every search row and, with ensembling, fitting the ensemble's members.
SEARCH_SHARE = 0.8
SEARCH_SHARE_ENSEMBLE = 0.6


def search_share(ensemble: bool) -> float:
    return SEARCH_SHARE_ENSEMBLE if ensemble else SEARCH_SHARE


def starting_trials(space: dict) -> list[dict]:
    """Flat params of the starting trials of a `model: auto` space, cheapest family first
    (families of equal cost in the space's order); [] for a space without a model choice."""
    spec = space.get("model")
    if not spec or spec["type"] != "categorical":
        return []
    families = sorted(spec["choices"], key=lambda name: FAMILIES[name].cost)
    starts = []
    for name in families:
        sub = spec["conditional"].get(choice_key(name), {})
        starts.append({"model": name, **cheap_params(sub, FAMILIES[name].fidelity, f"{name}.")})
    return starts


def cheap_params(space: dict, fidelity: tuple[str, ...], prefix: str = "") -> dict:
    """One setting of `space`: fidelity params at their low end, others in the middle (on
    the log scale where the spec is), categoricals at their first choice."""
    params = {}
    for name, spec in space.items():
        value = _pick(spec, name in fidelity)
        params[prefix + name] = value
        if spec["type"] == "categorical":
            sub = spec["conditional"].get(choice_key(value))
            if sub:
                params.update(cheap_params(sub, fidelity, f"{prefix}{choice_key(value)}."))
    return params


def _pick(spec: dict, low: bool) -> object:
    kind = spec["type"]
    if kind == "fixed":
        return spec["value"]
    if kind == "categorical":
        return spec["choices"][0]
    lo, hi = spec["low"], spec["high"]
    if low:
        value = lo
    elif spec["log"]:
        value = math.sqrt(lo * hi)
    else:
        value = (lo + hi) / 2
    if spec.get("step"):  # on the grid Optuna samples from
        value = lo + round((value - lo) / spec["step"]) * spec["step"]
    return int(round(value)) if kind == "int" else float(value)

"""The job page's search-space charts, drawn as the user picks them: which chart
(parallel coordinates, contour, slice, empirical distribution), which model family (under
`model: auto` each family has its own parameters) and which of its parameters.

The page (and the API) read the pick from a query string:

    chart=parcoords     parcoords, contour, slice or edf
    family=svm          only that family's trials and parameters ("" or absent: the
                        family of the best trial; "all" for every trial and the
                        parameters they share)
    param=svm.C         a parameter to draw, repeated; absent: the family's most important
                        few (by the job's fANOVA importances), else its first few

A wrong one is Invalid naming it (a 400). Excluded trials are left out, as from every chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.io
from django.db.models import F, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import QueryDict
from plotly.graph_objects import Figure

from automl.charts import themed
from automl.errors import Invalid
from automl.jobs import charts, explorer, kinds
from automl.jobs.models import Job, Trial

CHARTS = {
    "parcoords": "Parallel coordinates",
    "contour": "Contour (a pair of parameters)",
    "slice": "Slice (each parameter alone)",
    "edf": "Empirical distribution of the objective",
}
ALL = "all"  # the family choice for every trial
DEFAULT_AXES = 4  # parameters drawn when none is picked: the most important few
BEST, LATEST = 300, 200  # a family's complete trials drawn one by one, at most


@dataclass(frozen=True)
class Pick:
    """What to draw, checked against the job; `available` are the family's parameters."""

    chart: str
    family: str  # a family's name, ALL, or "" for a job that searched one family
    params: tuple[str, ...]
    available: tuple[str, ...]
    families: tuple[str, ...]

    def as_json(self) -> dict:
        return {
            "chart": self.chart,
            "family": self.family,
            "params": list(self.params),
            "available": list(self.available),
            "families": list(self.families),
            "charts": CHARTS,
        }


def pick(job: Job, query: QueryDict) -> Pick:
    """The pick a request's GET parameters ask for, defaults filled in; Invalid naming
    every wrong one."""
    columns = explorer.columns_for(job)
    errors: dict[str, list[str]] = {}
    chart = query.get("chart") or "parcoords"
    if chart not in CHARTS:
        errors["chart"] = [f"{chart!r} is not one of {', '.join(CHARTS)}"]
    family = query.get("family") or ""
    if not columns.families:
        if family:
            errors["family"] = [f"{family!r}: this job searched one family, give none"]
    elif not family:
        family = _best_family(job, columns)
    elif family not in (*columns.families, ALL):
        known = ", ".join((*columns.families, ALL))
        errors["family"] = [f"{family!r} is not one of this job's families ({known})"]
    available = _params_of(columns, family)
    asked = tuple(dict.fromkeys(query.getlist("param")))
    unknown = [name for name in asked if name not in available]
    if unknown:
        errors["param"] = [
            f"{', '.join(unknown)}: not a parameter of "
            + (f"the {family} family" if family not in ("", ALL) else "this job's trials")
        ]
    if errors:
        raise Invalid("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors)
    chosen = asked or _most_important(job, family, available)
    return Pick(chart, family, chosen, available, columns.families)


def _params_of(columns: explorer.Columns, family: str) -> tuple[str, ...]:
    """A family's parameters that vary (shared ones first); for ALL, the shared ones, the
    family choice among them."""
    own = ("",) if family in ("", ALL) else ("", family)
    return tuple(
        p.name
        for p in columns.params
        if p.group in own
        and p.type != "fixed"
        and (family in ("", ALL) or p.name != columns.family_param)
    )


def _most_important(job: Job, family: str, available: tuple[str, ...]) -> tuple[str, ...]:
    result = job.result or {}
    if family in ("", ALL):
        found = result.get("importances") or {}
    else:
        found = (result.get("importances_by_family") or {}).get(family) or {}
    ranked = sorted((n for n in found if n in available), key=lambda n: -found[n])
    rest = [n for n in available if n not in ranked]
    return tuple([*ranked, *rest][:DEFAULT_AXES])


def _charted(job: Job) -> QuerySet[Trial]:
    return Trial.objects.filter(
        job=job, excluded=False, state=Trial.State.COMPLETE, value__isnull=False
    ).order_by()


def _best_family(job: Job, columns: explorer.Columns) -> str:
    """The family of the job's best trial (the first family before any trial finished)."""
    best = _ordered_by_value(job, _charted(job)).values_list("params", flat=True).first()
    return str((best or {}).get(columns.family_param, columns.families[0]))


def _ordered_by_value(job: Job, trials: QuerySet[Trial]) -> QuerySet[Trial]:
    better_first = F("value").desc if kinds.get(job.kind).direction(job) == "maximize" else None
    return trials.order_by(better_first() if better_first else "value", "number")


def trials_of(job: Job, chosen: Pick) -> tuple[list[dict], str]:
    """The family's complete trials the charts draw one by one, and a note when a big job's
    are a sample (its best and its latest)."""
    trials = _charted(job)
    if chosen.family not in ("", ALL):
        columns = explorer.columns_for(job)
        trials = explorer.TrialQuery(family=chosen.family, columns=columns).apply(trials)
    fields = ("number", "state", "params", "values")
    count = trials.count()
    if count <= BEST + LATEST:
        return list(trials.order_by("number").values(*fields)), ""
    picked = {
        t["number"]: t
        for t in [
            *_ordered_by_value(job, trials).values(*fields)[:BEST],
            *trials.order_by("-number").values(*fields)[:LATEST],
        ]
    }
    note = f"Drawn from the {BEST} best and the {LATEST} latest of {count:,} complete trials."
    return sorted(picked.values(), key=lambda t: t["number"]), note


def distributions(job: Job) -> dict[str, list[float]]:
    """Every complete trial's value by family ("all trials" for a one-family job)."""
    key = explorer.columns_for(job).family_param
    if key is None:
        return {"all trials": list(_charted(job).values_list("value", flat=True))}
    rows = _charted(job).annotate(family=KeyTextTransform(key, "params"))
    groups: dict[str, list[float]] = {}
    for family, value in rows.values_list("family", "value"):
        groups.setdefault(family, []).append(value)
    return dict(sorted(groups.items()))


def figure(job: Job, chosen: Pick) -> tuple[Figure | None, str]:
    """The picked chart (None when there is nothing to draw yet) and a note saying what it
    draws or why nothing."""
    metric = kinds.get(job.kind).metrics(job)[0]
    whose = "" if chosen.family in ("", ALL) else f" ({chosen.family} trials)"
    if chosen.chart == "edf":
        fig = charts.edf(distributions(job), metric)
        return fig, "" if fig else "Nothing to draw until a trial completes."
    trials, note = trials_of(job, chosen)
    params = chosen.params
    if chosen.chart == "contour":
        if len(params) < 2:
            return None, "Pick two parameters for a contour."
        fig = charts.contour(trials, metric, params[0], params[1])
        if fig is not None:
            fig.update_layout(title_text=f"Contour of {metric}{whose}: {params[0]}, {params[1]}")
            note = " ".join(filter(None, [note, "The first two picked parameters are drawn."]))
    elif chosen.chart == "slice":
        fig = charts.slices(trials, metric, params, f"Slice: {metric} by parameter{whose}")
    else:
        fig = charts.parallel_coordinates(trials, metric, params, f"Parallel coordinates{whose}")
    if fig is None:
        return None, "Nothing to draw until trials with these parameters complete."
    return fig, note


def answer(job: Job, query: QueryDict) -> dict:
    """What the page's picker and the API answer: the pick (defaults filled in, the
    family's parameters to choose from) with its figure as Plotly JSON (None: nothing yet)
    and its note."""
    chosen = pick(job, query)
    fig, note = figure(job, chosen)
    drawn = None if fig is None else json.loads(plotly.io.to_json(themed(fig), validate=False))
    return {**chosen.as_json(), "figure": drawn, "note": note}

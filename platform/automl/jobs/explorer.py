"""The trial explorer: which of a job's trials, in what order, a page at a time, chosen by
the database, so a job of 50,000 trials pages as fast as one of 200.

The trials API and the job page read the same query string through TrialQuery:

    state=complete          trials in one state
    family=svm              trials of one model family: the value of the search space's
                            choice parameter ("model" under model: auto)
    ordering=-value         number, value (the first objective), state, duration,
                            started_at, finished_at or params.<name>; "-" for descending.
                            Trials without what is sorted on (failed, another family's
                            parameter) come last either way.
    min.<name>=0.1          a numeric parameter at least 0.1 (max.<name>: at most)
    is.<name>=rbf           a categorical parameter equal to rbf (repeat for any of several)

A wrong one is Invalid naming it (a 400), never a 500 and never silently ignored.

Sorting and ranges over a parameter read its JSON key in SQL (Postgres's jsonb compares
numbers as numbers; SQLite's json_extract returns SQL numbers), so no row is decoded in
Python; the first objective is Trial.value, a generated column with an index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
)
from django.db.models.fields.json import KeyTransform
from django.http import QueryDict

from automl.errors import Invalid
from automl.jobs import kinds
from automl.jobs.charts import History, TrialSample
from automl.jobs.models import Job, Trial
from workers.hpo.space import choice_key, flat_specs

NUMERIC = ("float", "int")
ORDERINGS = ("number", "value", "state", "duration", "started_at", "finished_at")
PARAM_ORDER = "params."


@dataclass(frozen=True)
class Param:
    """One parameter column: its flat name, the family it belongs to ("" for every
    trial's), and its search-space type and choices."""

    name: str
    group: str
    type: str
    choices: tuple = ()

    @property
    def label(self) -> str:
        """The name without its family's prefix (the table groups it under the family)."""
        return self.name.removeprefix(f"{self.group}.") if self.group else self.name


@dataclass(frozen=True)
class Columns:
    """A job's parameter columns, every one its search space can produce, by family."""

    params: tuple[Param, ...] = ()
    family_param: str | None = None  # the choice that names a trial's family ("model")
    families: tuple[str, ...] = ()

    def get(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def groups(self, family: str | None = None) -> list[tuple[str, list[Param]]]:
        """(family, its params) with the shared ones first; only `family`'s when given."""
        out: dict[str, list[Param]] = {}
        for param in self.params:
            if family is None or param.group in ("", family):
                out.setdefault(param.group, []).append(param)
        return list(out.items())


def columns_for(job: Job) -> Columns:
    """The columns of a job whose kind has parameter columns (none for the others)."""
    kind = kinds.get(job.kind)
    space = job.typed_config.search_space if kind.param_columns else {}
    params = tuple(
        Param(name, group, spec.get("type", ""), _choices(spec))
        for name, (group, spec) in flat_specs(space).items()
    )
    family = next(
        (
            name
            for name, spec in space.items()
            if spec.get("type") == "categorical" and spec.get("conditional")
        ),
        None,
    )
    families = tuple(choice_key(c) for c in space[family]["choices"]) if family else ()
    return Columns(params, family, families)


def _choices(spec: dict) -> tuple:
    if spec.get("type") == "fixed":
        return (spec.get("value"),)
    return tuple(spec.get("choices") or ())


@dataclass(frozen=True)
class TrialQuery:
    """What a trials table shows: a filter and an ordering, checked against the job."""

    state: str | None = None
    family: str | None = None
    ordering: str = "number"
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()
    matches: tuple[tuple[str, tuple], ...] = ()
    columns: Columns = field(default_factory=Columns, compare=False, repr=False)

    @classmethod
    def parse(cls, query: QueryDict, columns: Columns) -> TrialQuery:
        """The query from a request's GET parameters; Invalid naming every wrong one."""
        errors: dict[str, list[str]] = {}

        def wrong(name: str, message: str) -> None:
            errors.setdefault(name, []).append(message)

        state = query.get("state") or None
        if state is not None and state not in Trial.State.values:
            wrong("state", f"{state!r} is not one of {', '.join(Trial.State.values)}")
        family = query.get("family") or None
        if family is not None and family not in columns.families:
            known = ", ".join(columns.families) or "none: this job searched one family"
            wrong("family", f"{family!r} is not one of this job's families ({known})")
        ordering = query.get("ordering") or "number"
        key = ordering.removeprefix("-")
        if key.startswith(PARAM_ORDER):
            if columns.get(key.removeprefix(PARAM_ORDER)) is None:
                wrong("ordering", _unknown(key.removeprefix(PARAM_ORDER), columns))
        elif key not in ORDERINGS:
            wrong("ordering", f"{ordering!r}: sort by {', '.join(ORDERINGS)} or params.<name>")
        bounds: dict[str, list[float | None]] = {}
        matches: dict[str, list] = {}
        for name in query:
            prefix, _, param_name = name.partition(".")
            if prefix not in ("min", "max", "is"):
                continue
            param = columns.get(param_name)
            if param is None:
                wrong(name, _unknown(param_name, columns))
            elif prefix == "is":
                given = query.getlist(name)
                chosen = [c for c in param.choices if choice_key(c) in given]
                if len(chosen) < len(set(given)):
                    options = ", ".join(choice_key(c) for c in param.choices) or "none"
                    wrong(name, f"{param_name}'s values are {options}")
                matches[param_name] = chosen
            elif param.type not in NUMERIC:
                wrong(name, f"{param_name} is {param.type or 'not numeric'}: use is.{param_name}")
            else:
                bound = _number(query.get(name))
                if bound is None:
                    wrong(name, "must be a finite number")
                pair = bounds.setdefault(param_name, [None, None])
                pair[prefix == "max"] = bound
        for name, (low, high) in bounds.items():
            if low is not None and high is not None and low > high:
                wrong(f"min.{name}", f"is more than max.{name}")
        if errors:
            raise Invalid(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), fields=errors
            )
        return cls(
            state=state,
            family=family,
            ordering=ordering,
            ranges=tuple((n, lo, hi) for n, (lo, hi) in bounds.items()),
            matches=tuple((n, tuple(v)) for n, v in matches.items()),
            columns=columns,
        )

    # --- the database side

    def apply(self, trials: QuerySet[Trial]) -> QuerySet[Trial]:
        """`trials` filtered and ordered as asked (the number breaks ties)."""
        if self.state:
            trials = trials.filter(state=self.state)
        if self.family and self.columns.family_param:
            trials = trials.filter(_param(self.columns.family_param, "exact", self.family))
        for name, low, high in self.ranges:
            if low is not None:
                trials = trials.filter(_param(name, "gte", low))
            if high is not None:
                trials = trials.filter(_param(name, "lte", high))
        for name, values in self.matches:
            either = Q()
            for value in values:
                either |= Q(_param(name, "exact", value))
            trials = trials.filter(either)
        return trials.order_by(*self._order())

    def _order(self) -> list:
        key, descending = self.ordering.removeprefix("-"), self.ordering.startswith("-")
        if key == "number":
            return ["-number" if descending else "number"]
        if key.startswith(PARAM_ORDER):
            expression = KeyTransform(key.removeprefix(PARAM_ORDER), "params")
        elif key == "duration":
            expression = ExpressionWrapper(
                F("finished_at") - F("started_at"), output_field=DurationField()
            )
        else:
            expression = F(key)
        ordered = expression.desc if descending else expression.asc
        return [ordered(nulls_last=True), "number"]

    # --- links

    def params(self, **changes) -> dict[str, list[str]]:
        """The query as GET parameters (defaults left out), with `changes` made."""
        query = replace(self, **changes) if changes else self
        out: dict[str, list[str]] = {}
        if query.state:
            out["state"] = [query.state]
        if query.family:
            out["family"] = [query.family]
        if query.ordering != "number":
            out["ordering"] = [query.ordering]
        for name, low, high in query.ranges:
            if low is not None:
                out[f"min.{name}"] = [f"{low:g}"]
            if high is not None:
                out[f"max.{name}"] = [f"{high:g}"]
        for name, values in query.matches:
            out[f"is.{name}"] = [choice_key(v) for v in values]
        return out

    def url(self, **changes) -> str:
        """ "?..." for a link to the table with `changes` made ("?" for the plain one)."""
        return "?" + urlencode(self.params(**changes), doseq=True)

    def sorted_by(self, key: str) -> str:
        """The link a column heading makes: sort by it, descending when it already is."""
        return self.url(ordering=f"-{key}" if self.ordering == key else key)

    @property
    def filtered(self) -> bool:
        return bool(self.state or self.family or self.ranges or self.matches)


def _param(name: str, lookup: str, value: object):
    """A condition on one parameter's JSON value: 32 matches 32 (not "32"), and numbers
    compare as numbers."""
    key = KeyTransform(name, "params")
    return key.get_lookup(lookup)(key, Value(value, output_field=JSONField()))


def _number(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _unknown(name: str, columns: Columns) -> str:
    if not columns.params:
        return f"no parameter {name!r}: this job's trials have no parameter columns"
    return f"no parameter {name!r} in this job's search space"


# --- what the charts draw

HISTORY_POINTS = 2000  # up to this many trials, the history draws each complete one
HISTORY_BINS = 1000  # beyond, it draws this many bins' ranges, computed in the database
SAMPLE_BEST, SAMPLE_LATEST = 150, 100  # trials drawn one by one (curves, parameters)
CHART_FIELDS = ("number", "state", "params", "values", "intermediate_values")


def chart_sample(job: Job) -> TrialSample:
    """What the job's charts are drawn from, in a bounded number of rows whatever the
    number of trials: excluded trials are left out of every chart. The counts come from
    indexes and the history from the partial index trial_job_history, so 50,000 trials
    cost a few index scans."""
    trials = Trial.objects.filter(job=job)
    charted = trials.filter(excluded=False)
    found = trials.order_by().aggregate(n=Count("*"), last=Max("number"))
    if found["n"] <= SAMPLE_BEST + SAMPLE_LATEST:
        rows = list(charted.order_by("number").values(*CHART_FIELDS))
        return TrialSample(rows, History.of(rows))
    direction = kinds.get(job.kind).direction(job)
    value = F("value").desc if direction == "maximize" else F("value").asc
    best = charted.order_by(value(nulls_last=True), "number").values(*CHART_FIELDS)
    latest = charted.order_by("-number").values(*CHART_FIELDS)
    picked = {t["number"]: t for t in [*best[:SAMPLE_BEST], *latest[:SAMPLE_LATEST]]}
    note = (
        f"Learning curves and parameter charts draw the {SAMPLE_BEST} best and the "
        f"{SAMPLE_LATEST} latest of {found['n']:,} trials; the history draws every one."
    )
    rows = sorted(picked.values(), key=lambda t: t["number"])
    return TrialSample(rows, history(charted, found["n"], found["last"]), note)


def history(charted: QuerySet[Trial], total: int, last: int) -> History:
    """Every complete trial's value by number (of `total` trials numbered up to `last`):
    each one, or for many trials the lowest and highest of each bin of consecutive
    numbers, aggregated by the database."""
    done = charted.filter(state=Trial.State.COMPLETE, value__isnull=False).order_by()
    if total <= HISTORY_POINTS:
        rows = list(done.order_by("number").values_list("number", "value"))
        values = [v for _, v in rows]
        return History([n for n, _ in rows], values, values, len(rows))
    size = math.ceil((last + 1) / HISTORY_BINS)
    bins = (
        done.annotate(bin=ExpressionWrapper(F("number") / size, output_field=IntegerField()))
        .values("bin")
        .annotate(low=Min("value"), high=Max("value"), n=Count("*"))
        .order_by("bin")
    )
    rows = list(bins)
    return History(
        [row["bin"] * size for row in rows],
        [row["low"] for row in rows],
        [row["high"] for row in rows],
        sum(row["n"] for row in rows),
        size,
    )

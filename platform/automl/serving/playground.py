"""The prediction playground of a deployment page: one typed field per input feature, a
row of the version's data set to start from, and the answer in the data's own labels.

The fields come from what the version stored when it was trained, never from its data
set: `reference.json` (each feature's training quantiles or most frequent values) and
the preprocessing's input record (each raw column's kind, which tells dates apart from
categories). Only picking a data set row reads the data set.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

from automl.errors import Invalid
from automl.registry.models import ModelVersion

NUMBER, CATEGORY, DATE, TEXT = "number", "category", "date", "text"


@dataclass(frozen=True)
class Field:
    """One input of the form.

    Attributes:
        name: the feature (column) name, as the API's row objects key it.
        kind: NUMBER, CATEGORY (a select, or a text box suggesting the values), DATE, TEXT.
        choices: the training values of a category, most frequent first.
        closed: the choices are every training value (a select); else the most frequent
            ones, suggested while any value may be typed.
        low, high: the training range of a number.
        typical: the pre-filled value when no data set row is picked (the median number,
            the most frequent category or date).
    """

    name: str
    kind: str
    choices: tuple[str, ...] = ()
    closed: bool = False
    low: float | None = None
    high: float | None = None
    typical: str = ""

    @property
    def input_id(self) -> str:
        return f"feature-{self.name}"


def _stored_json(version: ModelVersion, name: str) -> dict:
    from automl.registry.storage import StorageError, get_storage

    try:
        with get_storage().open(version.storage_key, name) as f:
            return json.load(f)
    except (StorageError, OSError, ValueError):
        return {}


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def _commonest_first(stat: dict) -> tuple[str, ...]:
    """A categorical feature's training values, the most frequent first (reference.json
    is stored with sorted keys)."""
    frequencies = stat.get("frequencies") or {}
    return tuple(str(v) for v in sorted(frequencies, key=lambda v: -frequencies[v]))


def fields(version: ModelVersion | None) -> list[Field]:
    """The form's fields for `version`'s raw input columns; [] when their names are
    unknown (an imported model without them: the page offers the JSON box alone)."""
    if version is None or not version.features:
        return []
    stats = _stored_json(version, "reference.json").get("features") or {}
    record = _stored_json(version, "preprocessing.json").get("input") or {}
    kinds = dict(zip(record.get("names") or [], record.get("kinds") or [], strict=False))
    out = []
    for name in version.features:
        stat, kind = stats.get(name) or {}, kinds.get(name)
        column_kind = stat.get("kind")  # the reference statistics' own word for the column
        if kind == "datetime":
            dates = _commonest_first(stat)
            out.append(Field(name, DATE, typical=str(dates[0])[:10] if dates else ""))
        elif kind == "text":
            out.append(Field(name, TEXT))
        elif column_kind == "categorical" or kind in ("categorical", "boolean"):
            values = _commonest_first(stat)
            closed = bool(values) and not stat.get("other")
            out.append(Field(name, CATEGORY, values, closed, typical=values[0] if values else ""))
        else:
            bins = [b for b in stat.get("bins") or () if b is not None]
            out.append(
                Field(
                    name,
                    NUMBER,
                    low=bins[0] if bins else None,
                    high=bins[-1] if bins else None,
                    typical=_number_text(bins[len(bins) // 2]) if bins else "",
                )
            )
    return out


def row_from_form(form_fields: list[Field], data) -> dict[str, Any]:
    """The API row object of the submitted fields (an empty field is a missing value);
    Invalid naming every field whose value is not of its kind."""
    row, errors = {}, {}
    for field in form_fields:
        raw = data.get(field.input_id, "").strip()
        if not raw:
            row[field.name] = None
        elif field.kind == NUMBER:
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                errors[field.input_id] = [f"{field.name}: {raw!r} is not a number"]
            row[field.name] = int(value) if value.is_integer() and "." not in raw else value
        else:
            row[field.name] = raw
    if errors:
        raise Invalid(" ".join(e for msgs in errors.values() for e in msgs), errors)
    return row


@dataclass(frozen=True)
class DataRow:
    """A row of the version's training data, as the playground's starting values."""

    index: int
    n_rows: int
    dataset_name: str
    values: dict[str, Any]
    actual: Any  # the row's target, in the data's own labels


def _cell(value: Any) -> Any:
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def data_row(version: ModelVersion, which: str) -> DataRow:
    """Row `which` (its number from 0, or "random") of the rows `version` was trained
    from; Invalid when the version has no data set or there is no such row."""
    from automl.datasets.services import training_data

    if version.dataset is None:
        raise Invalid(
            f"{version} was not trained on a data set of this platform: type the values",
            {"row": ["no data set"]},
        )
    data = training_data(version.dataset, version.config or {})
    n_rows = len(data.X)
    if which == "random":
        index = random.randrange(n_rows)
    elif which.isdigit() and int(which) < n_rows:
        index = int(which)
    else:
        raise Invalid(
            f"row: pick a row from 0 to {n_rows - 1}, or random", {"row": ["no such row"]}
        )
    features = version.features or list(data.feature_names)
    values = dict(zip(features, (_cell(v) for v in data.X[index]), strict=False))
    actual = _cell(data.y[index])
    labels = (version.spec or {}).get("class_labels") or data.classes  # as answers name them
    if version.task == "classification" and labels is not None:
        actual = labels[int(actual)]
    return DataRow(index, n_rows, version.dataset.name, values, actual)


def answer_view(answer: dict) -> dict:
    """What the page shows of a one-row answer: the label, the probability of each class
    (most probable first) with a bar chart, and the explanation's attributions."""
    from automl.charts import figure_html

    view: dict = {"prediction": answer["predictions"][0], "version": answer.get("version")}
    classes, probabilities = answer.get("classes"), answer.get("probabilities")
    if classes is not None and probabilities:
        pairs = sorted(zip(classes, probabilities[0], strict=True), key=lambda p: -p[1])
        view["probabilities"] = pairs
        import plotly.graph_objects as go

        fig = go.Figure(
            go.Bar(
                x=[p for _, p in pairs],
                y=[str(c) for c, _ in pairs],
                orientation="h",
                text=[f"{p:.1%}" for _, p in pairs],
            )
        )
        fig.update_layout(
            title="Probability of each class",
            xaxis={"title": "probability", "range": [0, 1]},
            yaxis={"title": "class", "autorange": "reversed", "type": "category"},
            margin={"l": 80, "r": 20, "t": 40, "b": 40},
        )
        view["figure"] = figure_html(fig, height=120 + 28 * len(pairs))
    if explained := answer.get("explanations"):
        row = explained["rows"][0]
        view["explanation"] = {
            "method": explained["method"],
            "output": explained["output"],
            "attributions": sorted(row["attributions"].items(), key=lambda a: -abs(a[1])),
        }
    return view

"""What a predict request's rows become: a 2-D array in the model's feature order, or an
Invalid naming each bad row and value (at most MAX_REPORTED_ROWS of them)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from numbers import Real
from typing import Any

import numpy as np
from django.conf import settings

from automl.errors import Invalid

MAX_REPORTED_ROWS = 10  # bad rows named in one 400


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


def _flat(row: list, depth: int = 3) -> list:
    """An image sent as it was uploaded (H x W or C x H x W nested arrays) -> its flat row
    of pixels, the model's input order; deeper nesting is left for the number check."""
    if not any(isinstance(v, list) for v in row):
        return row
    out: list = []
    for value in row:
        if isinstance(value, list) and depth > 1:
            out.extend(_flat(value, depth - 1))
        else:
            out.append(value)
    return out


def parse_inputs(
    inputs: Any,
    features: list[str] | None,
    n_features: int | None,
    allow_text: bool,
    ignored: frozenset[str] = frozenset(),
) -> np.ndarray:
    """JSON rows (objects keyed by feature name) or arrays -> a 2-D array in model order.

    Missing or extra names, wrong lengths and non-numbers are an Invalid naming them;
    `ignored` names columns of a full raw row that the model does not read (its target,
    the columns its preprocessing drops): they are left out, not refused.
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
    wanted = set(features or ()) | set(ignored)
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
            row = _flat(row)
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


def input_hash(X: np.ndarray) -> str:
    text = json.dumps([str(X.dtype), X.tolist()], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()

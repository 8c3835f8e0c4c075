"""Column kinds of a raw table, and parsing raw cells (CSV strings or JSON values) into numbers.

A raw column is a 1-D object array whose cells are strings, numbers, booleans or None
(missing). The same parsers serve training (cells read from a CSV) and serving (cells
sent as JSON), so a model sees identical numbers both ways.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

KINDS = ("numeric", "boolean", "datetime", "categorical", "text")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
TRUE = frozenset({"true", "yes", "t", "y"})
FALSE = frozenset({"false", "no", "f", "n"})
# Strings longer than this on average, nearly all distinct, are free text, not categories.
TEXT_MIN_MEAN_LENGTH = 30
TEXT_MIN_DISTINCT_SHARE = 0.5
_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


def clean_cell(cell: object) -> object:
    """A CSV cell with surrounding blanks removed; missing-value tokens become None."""
    if cell is None:
        return None
    if isinstance(cell, str):
        cell = cell.strip()
        return None if cell.lower() in MISSING else cell
    if isinstance(cell, float) and math.isnan(cell):
        return None
    return cell


def present(values: np.ndarray) -> np.ndarray:
    """The non-missing cells of a raw column."""
    values = np.asarray(values, dtype=object)
    return values[np.array([v is not None for v in values], dtype=bool)] if len(values) else values


def to_float(values: np.ndarray) -> np.ndarray:
    """Numbers (NaN for missing or unparseable cells; inf counts as missing too)."""
    values = np.asarray(values, dtype=object)
    try:
        out = np.asarray(values, dtype=np.float64)  # None -> nan; numeric strings parse
    except (ValueError, TypeError):
        out = np.array([_float(v) for v in values], dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def _float(value: object) -> float:
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def to_bool(values: np.ndarray) -> np.ndarray:
    """1.0 / 0.0, NaN for missing or unrecognised cells."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            out[i] = float(v)
        elif isinstance(v, str):
            low = v.strip().lower()
            out[i] = 1.0 if low in TRUE else 0.0 if low in FALSE else _float(v)
        elif v is not None:
            out[i] = _float(v)
    out[(out != 0.0) & (out != 1.0)] = np.nan
    return out


def to_seconds(values: np.ndarray) -> np.ndarray:
    """Seconds since 1970-01-01 UTC (NaN for missing or unparseable cells)."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, str):
            stamp = _timestamp(v)
            if stamp is not None:
                out[i] = stamp
    return out


def _timestamp(text: str) -> float | None:
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def datetime_parts(seconds: np.ndarray) -> np.ndarray:
    """N x 4: year, month (1-12), weekday (Monday 0) and hour of each timestamp (NaN kept)."""
    ok = np.isfinite(seconds)
    stamps = np.where(ok, seconds, 0.0).astype("int64").astype("datetime64[s]")
    days = (stamps - _EPOCH).astype("timedelta64[D]").astype(np.int64)
    parts = np.column_stack(
        [
            stamps.astype("datetime64[Y]").astype(np.int64) + 1970,
            stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1,
            (days + 3) % 7,  # 1970-01-01 was a Thursday
            (stamps - stamps.astype("datetime64[D]")).astype(np.int64) // 3600,
        ]
    ).astype(np.float64)
    parts[~ok] = np.nan
    return parts


def infer_kind(values: np.ndarray) -> str:
    """The kind of a raw column: numeric, boolean, datetime, categorical or text.

    A column counts as numeric (boolean, datetime) only when every present cell parses
    as one; a column with no present cell is categorical.
    """
    cells = present(values)
    if len(cells) == 0:
        return "categorical"
    if not np.isnan(to_float(cells)).any() and not any(isinstance(c, bool) for c in cells):
        return "numeric"
    strings = [c if isinstance(c, str) else str(c) for c in cells]
    if all(
        isinstance(c, (str, bool)) and s.lower() in TRUE | FALSE
        for c, s in zip(cells, strings, strict=True)
    ):
        return "boolean"
    if _looks_like_dates(strings) and not np.isnan(to_seconds(np.array(strings))).any():
        return "datetime"
    distinct = len(set(strings))
    mean_length = sum(map(len, strings)) / len(strings)
    if mean_length > TEXT_MIN_MEAN_LENGTH and distinct > TEXT_MIN_DISTINCT_SHARE * len(strings):
        return "text"
    return "categorical"


def _looks_like_dates(strings: list[str]) -> bool:
    # A cheap look at a few cells first, so that a large text column is not parsed whole.
    sample = strings[:20]
    return (
        all(len(s) >= 8 and s[:4].isdigit() and s[4] == "-" for s in sample)
        and not np.isnan(to_seconds(np.array(sample, dtype=object))).any()
    )


DATETIME_PARTS = ("days", "year", "month", "weekday", "hour")
MISSING_STRING = ""  # what typed_table writes for a missing categorical cell


def cells_table(X: object, kinds: list[str] | None) -> np.ndarray:
    """X as a 2-D object array of one column per kind; ValueError naming what is wrong."""
    if kinds is None or not all(k in KINDS for k in kinds):
        raise ValueError(f"kinds must list one of {', '.join(KINDS)} per column")
    X = np.asarray(X, dtype=object)
    if X.ndim != 2 or X.shape[1] != len(kinds):
        raise ValueError(f"expected a 2-D table of {len(kinds)} columns, got {X.shape}")
    return X


def typed_table(
    X: np.ndarray, kinds: list[str], names: list[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Raw cells -> the columns a fitted preprocessing pipeline reads, with their names and
    roles ("numeric", "boolean", "datetime_days", "datetime_part" or "categorical").

    The pipeline itself holds scikit-learn transformers only (so that scikit-learn and skops
    alone can load it); parsing cells is done here, the same way for training and serving:
    numeric and boolean columns become floats (NaN where missing), a datetime column five
    floats (days since 1970 and its year, month, weekday and hour: the pipeline picks days
    or the parts), a categorical column strings ("" where missing: a cleaned cell is never
    empty, and ONNX string tensors have no None); text is left out.
    """
    columns, out_names, roles = [], [], []
    for cells, kind, name in zip(X.T, kinds, names, strict=True):
        if kind in ("numeric", "boolean"):
            columns.append((to_float if kind == "numeric" else to_bool)(cells)[:, None])
            out_names.append(name)
        elif kind == "datetime":
            seconds = to_seconds(cells)
            columns.append(np.column_stack([seconds / 86400.0, datetime_parts(seconds)]))
            out_names += [f"{name}_{part}" for part in DATETIME_PARTS]
            roles += ["datetime_days"] + ["datetime_part"] * (len(DATETIME_PARTS) - 1)
            continue
        elif kind == "categorical":
            strings = [MISSING_STRING if c is None else str(c) for c in cells]
            columns.append(np.array(strings, dtype=object)[:, None])
            out_names.append(name)
        else:
            continue
        roles.append(kind)
    table = np.empty((len(X), 0), dtype=object)
    if columns:
        table = np.hstack([c.astype(object) for c in columns])
    return table, out_names, roles

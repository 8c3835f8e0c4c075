"""Data set profiles: per-column kind, missing share, distinct count, summary statistics,
IQR outliers and a histogram (or the most frequent values), plus the target's balance.

A profile is plain JSON of bounded size: HISTOGRAM_BINS bins per numeric column and at
most TOP_VALUES values per categorical one.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from workers.data.columns import infer_kind, present, to_bool, to_float, to_seconds

PROFILE_VERSION = 1
HISTOGRAM_BINS = 20
TOP_VALUES = 20
MAX_VALUE_CHARS = 100


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def numeric_summary(numbers: np.ndarray) -> dict:
    """min/max/mean/std, IQR outlier count and a histogram of the finite numbers."""
    values = numbers[np.isfinite(numbers)]
    if len(values) == 0:
        return {
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "outliers": 0,
            "histogram": {"edges": [], "counts": []},
        }
    q1, q3 = np.quantile(values, [0.25, 0.75])
    spread = 1.5 * (q3 - q1)
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return {
        "min": _finite(values.min()),
        "max": _finite(values.max()),
        "mean": _finite(values.mean()),
        "std": _finite(values.std()),
        "outliers": int(((values < q1 - spread) | (values > q3 + spread)).sum()),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def top_values(cells: list) -> list[dict]:
    """The most frequent values; long ones (free text) cut to MAX_VALUE_CHARS."""
    counts = Counter(str(c) for c in cells)
    return [{"value": v[:MAX_VALUE_CHARS], "count": n} for v, n in counts.most_common(TOP_VALUES)]


def column_profile(name: str, values: np.ndarray, kind: str | None = None) -> dict:
    """One raw (object) column's profile."""
    n = len(values)
    cells = present(values)
    kind = kind or infer_kind(values)
    out: dict = {
        "name": name,
        "kind": kind,
        "missing": int(n - len(cells)),
        "missing_share": float((n - len(cells)) / n) if n else 0.0,
        "distinct": len({str(c) for c in cells}),
    }
    if kind == "numeric":
        numbers = to_float(cells)
        out.update(numeric_summary(numbers))
        out["whole"] = bool(np.all(numbers == np.round(numbers)))
    elif kind == "boolean":
        out.update(numeric_summary(to_bool(cells)))
        out["top"] = top_values(list(cells))
    elif kind == "datetime":
        seconds = to_seconds(cells)
        summary = numeric_summary(seconds)
        for key in ("min", "max"):
            if summary[key] is not None:
                summary[key] = str(np.datetime64(int(summary[key]), "s"))
        out.update({"min": summary["min"], "max": summary["max"]})
    else:
        out["top"] = top_values(list(cells))
    return out


def numeric_column_profile(name: str, numbers: np.ndarray) -> dict:
    """Profile of an all-numeric column (builtin data sets, .npz tables): no parsing."""
    numbers = np.asarray(numbers, dtype=np.float64)
    missing = int(np.isnan(numbers).sum())
    return {
        "name": name,
        "kind": "numeric",
        "missing": missing,
        "missing_share": missing / len(numbers) if len(numbers) else 0.0,
        "distinct": int(len(np.unique(numbers[~np.isnan(numbers)]))),
        **numeric_summary(numbers),
    }


def target_profile(y: np.ndarray, task: str, name: str, classes: list | None = None) -> dict:
    """Class balance (classification) or a numeric summary (regression) of encoded y."""
    out: dict = {"name": name, "task": task}
    if task == "classification":
        labels, counts = np.unique(np.asarray(y), return_counts=True)
        total = int(counts.sum())
        out["classes"] = [
            {
                "value": classes[int(i)] if classes else _scalar(i),
                "count": int(c),
                "share": float(c / total),
            }
            for i, c in zip(labels, counts, strict=True)
        ]
    else:
        out.update(numeric_summary(np.asarray(y, dtype=np.float64)))
    return out


def _scalar(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def table_profile(
    cells: np.ndarray, columns: list[str], target: dict | None, kinds: list[str] | None = None
) -> dict:
    """Profile of a raw table (N x C object cells)."""
    return {
        "version": PROFILE_VERSION,
        "n_rows": int(cells.shape[0]),
        "n_columns": int(cells.shape[1]),
        "columns": [
            column_profile(name, cells[:, j], kinds[j] if kinds else None)
            for j, name in enumerate(columns)
        ],
        "target": target,
    }


def array_profile(X: np.ndarray, names: list[str], target: dict | None) -> dict:
    """Profile of a numeric array: per column for tables, one pixel summary for images."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        columns = [numeric_column_profile(name, X[:, j]) for j, name in enumerate(names)]
    else:
        columns = [numeric_column_profile("pixels", X.reshape(-1))]
        columns[0]["shape"] = list(X.shape[1:])
    return {
        "version": PROFILE_VERSION,
        "n_rows": int(X.shape[0]),
        "n_columns": int(np.prod(X.shape[1:])),
        "columns": columns,
        "target": target,
    }

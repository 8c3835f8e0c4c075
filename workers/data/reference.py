"""Reference statistics of training rows, kept beside a model for later drift checks.

Per feature, JSON of bounded size:
- numeric: `bins` (QUANTILE_BINS + 1 edges at the training quantiles, deduplicated),
  `counts` (training rows per bin; the outer bins are open-ended, so serving values
  below or above the training range fall into the first or last one), mean, std;
- categorical (any feature whose present cells are not all numbers): `frequencies` of
  the TOP_CATEGORIES most frequent values and `other`, the share of the rest;
- both: `missing_share`, `count`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from workers.data.columns import present, to_float

QUANTILE_BINS = 10
TOP_CATEGORIES = 50
# The one feature an image model's reference pools all its pixel values into.
PIXELS = "pixels"


def bin_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts of finite values in the bins that `edges` bound (outer bins open-ended)."""
    values = values[np.isfinite(values)]
    if len(edges) < 2:
        return [int(len(values))]
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    index = np.searchsorted(inner, values, side="right")
    return np.bincount(index, minlength=len(edges) - 1).astype(int).tolist()


def _numeric(numbers: np.ndarray) -> dict:
    finite = numbers[np.isfinite(numbers)]
    if len(finite) == 0:
        return {"kind": "numeric", "bins": [], "counts": [], "mean": None, "std": None}
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, QUANTILE_BINS + 1))).tolist()
    return {
        "kind": "numeric",
        "bins": edges,
        "counts": bin_counts(finite, edges),
        "mean": float(finite.mean()),
        "std": float(finite.std()),
    }


def _categorical(cells: np.ndarray) -> dict:
    counts = Counter(str(c) for c in cells)
    total = sum(counts.values())
    top = counts.most_common(TOP_CATEGORIES)
    return {
        "kind": "categorical",
        "frequencies": {value: n / total for value, n in top},
        "other": (total - sum(n for _, n in top)) / total if total else 0.0,
    }


def reference_stats(X: np.ndarray, feature_names: list[str]) -> dict:
    """Per-feature summary of training rows X (numeric or raw object cells), for drift.

    Returns {"n_rows": N, "features": {name: {...}}} (see the module docstring).
    Image arrays (more than two dimensions) are summarised as one PIXELS feature.
    """
    X = np.asarray(X)
    if X.ndim > 2:
        X, feature_names = X.reshape(-1, 1), [PIXELS]
    if X.ndim != 2 or X.shape[1] != len(feature_names):
        raise ValueError(f"X has shape {X.shape} but {len(feature_names)} feature names")
    features = {}
    for j, name in enumerate(feature_names):
        column = X[:, j]
        if column.dtype == object:
            cells = present(column)
            numbers = to_float(cells)
            stats = _categorical(cells) if np.isnan(numbers).any() else _numeric(numbers)
            missing = len(column) - len(cells)
        else:
            numbers = column.astype(np.float64)
            stats = _numeric(numbers)
            missing = int((~np.isfinite(numbers)).sum())
        stats["missing_share"] = missing / len(column) if len(column) else 0.0
        stats["count"] = int(len(column))
        features[str(name)] = stats
    return {"n_rows": int(X.shape[0]), "features": features}


def pooled_pixels(rows: list) -> np.ndarray:
    """Served images (each a flat or nested list of numbers, as logged) as the one PIXELS
    column reference_stats pools training images into, so a drift report compares the
    served pixel values with the trained ones. Rows that are no lists of numbers are left out."""
    values = []
    for row in rows:
        if not isinstance(row, list):
            continue
        try:
            values.append(np.asarray(row, dtype=np.float64).ravel())
        except (TypeError, ValueError):
            continue
    return np.concatenate(values).reshape(-1, 1) if values else np.empty((0, 1))

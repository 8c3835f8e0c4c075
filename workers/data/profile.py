"""Data set profiles: per-column kind, missing share, distinct count, summary statistics,
IQR outliers and a histogram (or the most frequent values, or rows over time for dates),
plus the target's balance.

A profile is plain JSON of bounded size: HISTOGRAM_BINS bins per numeric or date column
and at most TOP_VALUES values per categorical one.

Uploaded tables are profiled over batches (`profile_batches`) in memory bounded whatever
the row count: kinds, counts, missing shares, min/max/mean/std and top values are exact
(workers.data.summary says when distinct values stop being counted); quartiles, IQR
outliers and histograms come from a uniform sample of at most SAMPLE_ROWS rows, so they are
exact up to SAMPLE_ROWS rows and estimates (counts scaled to the row count) beyond.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from workers.data.columns import present, to_bool, to_float, to_seconds
from workers.data.summary import ColumnSummary
from workers.data.suspects import suspect_columns

PROFILE_VERSION = 2
SAMPLE_ROWS = 100_000
SAMPLE_CELLS = 4_000_000  # wide tables keep fewer sample rows: rows x columns at most this
HISTOGRAM_BINS = 20
TOP_VALUES = 20
MAX_VALUE_CHARS = 100


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def numeric_summary(numbers: np.ndarray, exact=None, scale: float = 1.0) -> dict:
    """min/max/mean/std, IQR outlier count and a histogram of the finite numbers.

    `numbers` may be a sample: then `exact` (summary.Moments of every number) gives
    min/max/mean/std and the histogram's range, and counts are scaled by `scale`.
    """
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
    if exact is not None and exact.count:
        lo, hi, mean, std = exact.lo, exact.hi, exact.mean, exact.std
    else:
        lo, hi, mean, std = values.min(), values.max(), values.mean(), values.std()
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))
    outliers = ((values < q1 - spread) | (values > q3 + spread)).sum()
    return {
        "min": _finite(lo),
        "max": _finite(hi),
        "mean": _finite(mean),
        "std": _finite(std),
        "outliers": round(outliers * scale),
        "histogram": {
            "edges": edges.tolist(),
            "counts": np.rint(counts * scale).astype(int).tolist(),
        },
    }


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


# --- uploaded tables, over batches


class RowSample:
    """A uniform sample of at most `size` rows of a stream of batches, seeded (the same
    file always gives the same sample): each row draws a random key and the rows with the
    `size` smallest keys are kept (priority sampling), held as Arrow arrays."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.kept: pa.Table | None = None

    def add(self, batch: list[pa.Array]) -> None:
        keys = self.rng.random(len(batch[0]))
        table = pa.table({str(j): column for j, column in enumerate(batch)})
        if len(self.keys) >= self.size:  # only rows that beat the largest kept key matter
            better = np.flatnonzero(keys < self.keys.max())
            keys, table = keys[better], table.take(better)
        table = table if self.kept is None else pa.concat_tables([self.kept, table])
        keys = np.concatenate([self.keys, keys])
        if len(keys) > self.size:
            best = np.argpartition(keys, self.size)[: self.size]
            keys, table = keys[best], table.take(best)
        self.keys, self.kept = keys, table

    @property
    def rows(self) -> np.ndarray:
        """The kept rows as an object array of cells, in the order they were drawn."""
        if self.kept is None:
            return np.empty((0, 0), dtype=object)
        order = np.argsort(self.keys, kind="stable")
        table = self.kept.take(order)
        return np.column_stack(
            [column.to_numpy(zero_copy_only=False) for column in table.columns]
        ).astype(object)


def profile_batches(
    batches: Iterable[list[pa.Array]], columns: list[str], target: str, task: str | None
) -> dict:
    """Profile of an uploaded table read in batches, in bounded memory (module docstring),
    in one pass: the target column's summary gives its class balance too."""
    from workers.data.uploads import target_spec

    size = max(1000, min(SAMPLE_ROWS, SAMPLE_CELLS // max(len(columns), 1)))
    summaries = [ColumnSummary() for _ in columns]
    sample = RowSample(size)
    for batch in batches:
        for summary, column in zip(summaries, batch, strict=True):
            summary.add(column)
        sample.add(batch)
    rows = sample.rows
    n_rows = summaries[0].rows if summaries else 0
    scale = n_rows / len(rows) if len(rows) else 1.0
    out = {
        "version": PROFILE_VERSION,
        "n_rows": n_rows,
        "n_columns": len(columns),
        "sampled_rows": len(rows),
        "columns": [
            summary_profile(name, s, rows[:, j], scale)
            for j, (name, s) in enumerate(zip(columns, summaries, strict=True))
        ],
    }
    t = columns.index(target)
    spec = target_spec(summaries[t], target, task)
    out["target"] = summary_target_profile(spec, summaries[t], rows[:, t], scale)
    out["suggested_drops"] = suspect_columns(columns, summaries, rows, t, spec.task)
    return out


def summary_profile(name: str, summary: ColumnSummary, sample: np.ndarray, scale: float) -> dict:
    """One column's profile from its exact summary and its cells in the row sample."""
    kind, cells = summary.kind, present(sample)
    out: dict = {
        "name": name,
        "kind": kind,
        "missing": summary.missing,
        "missing_share": summary.missing / summary.rows if summary.rows else 0.0,
        "distinct": summary.distinct,
    }
    if summary.capped:
        out["distinct_capped"] = True  # there are more distinct values than counted
    if kind == "numeric":
        out.update(numeric_summary(to_float(cells), summary.numbers, scale))
        out["whole"] = summary.whole
    elif kind == "boolean":
        out.update(numeric_summary(to_bool(cells), None, scale))
        out["top"] = _top(summary.counts)
    elif kind == "datetime":
        seconds = summary.seconds
        out["min"] = str(np.datetime64(int(seconds.lo), "s")) if seconds.count else None
        out["max"] = str(np.datetime64(int(seconds.hi), "s")) if seconds.count else None
        if seconds.count:
            out["timeline"] = timeline(to_seconds(cells), seconds.lo, seconds.hi, scale)
    else:
        out["top"] = _top(summary.counts)
    return out


def timeline(seconds: np.ndarray, lo: float, hi: float, scale: float = 1.0) -> dict:
    """Rows per time bin: HISTOGRAM_BINS equal bins from the column's first to its last
    timestamp (exact, over every row), counted over `seconds` (the sample's, scaled)."""
    counts, edges = np.histogram(seconds[np.isfinite(seconds)], HISTOGRAM_BINS, range=(lo, hi))
    return {
        "edges": [str(np.datetime64(int(round(edge)), "s")) for edge in edges],
        "counts": np.rint(counts * scale).astype(int).tolist(),
    }


def _top(counts: Counter) -> list[dict]:
    """The most frequent values (ties: alphabetical, so every format lists the same)."""
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
    return [{"value": v[:MAX_VALUE_CHARS], "count": n} for v, n in top]


def summary_target_profile(target, summary: ColumnSummary, sample: np.ndarray, scale: float):
    """The target's class balance (exact) or numeric summary, from its column's summary."""
    out: dict = {"name": target.name, "task": target.task}
    if target.task == "regression":
        out.update(numeric_summary(to_float(present(sample)), summary.numbers, scale))
        return out
    per_class: Counter = Counter()
    numeric = not isinstance(target.classes[0], str)
    for value, n in summary.counts.items():
        per_class[float(value) if numeric else value] += n
    total = sum(per_class.values())
    out["classes"] = [
        {"value": label, "count": per_class[label], "share": per_class[label] / total}
        for label in target.classes
        if per_class[label]
    ]
    return out

"""Uploaded data sets as TabularData: the target chosen, the task inferred, rows loaded.

Classification targets become class indices 0..k-1 (TabularData.classes holds the
labels); rows whose target is missing are left out. A task is inferred from the target
column (text, categories and booleans: classification; numbers: regression unless they
are whole numbers with at most MAX_INFERRED_CLASSES distinct values) and may be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.data.columns import to_float
from workers.data.files import DataFileError, read_npz
from workers.data.summary import ColumnSummary
from workers.data.tables import TableLayout, read_table
from workers.data.tabular import TabularData

TASKS = ("classification", "regression")
MAX_INFERRED_CLASSES = 20
MAX_CLASSES = 1000


@dataclass
class Target:
    """What a target column holds and the task it supports."""

    name: str
    kind: str
    task: str
    classes: list | None  # sorted labels (classification)


def analyse_target(values: np.ndarray, name: str, task: str | None = None) -> Target:
    """Check a raw target column against a task (inferred when None); DataFileError if bad."""
    return target_spec(ColumnSummary.of(values), name, task)


def target_spec(summary: ColumnSummary, name: str, task: str | None = None) -> Target:
    """Check a target column, from its summary, against a task (inferred when None)."""
    if not summary.present:
        raise DataFileError(f"the target column {name!r} has no values", "target")
    kind = summary.kind
    if kind == "datetime":
        raise DataFileError(
            f"the target column {name!r} holds dates; it cannot be a target", "target"
        )
    numeric = kind == "numeric"
    if task is None:
        few = numeric and not summary.capped and summary.distinct <= MAX_INFERRED_CLASSES
        task = "regression" if numeric and not (summary.whole and few) else "classification"
    if task == "regression":
        if not numeric:
            raise DataFileError(
                f"the target column {name!r} is not numeric ({kind}); regression needs a "
                "numeric target",
                "target",
            )
        if summary.numbers.lo == summary.numbers.hi:
            raise DataFileError(f"the target column {name!r} holds a single value", "target")
        return Target(name, kind, task, None)
    n_labels = summary.distinct
    if summary.capped or n_labels > MAX_CLASSES:
        raise DataFileError(
            f"the target column {name!r} has {'more than ' * summary.capped}{n_labels} "
            f"classes; at most {MAX_CLASSES} are allowed",
            "target",
        )
    labels = _labels(summary) if n_labels else []
    if len(labels) < 2:
        raise DataFileError(
            f"the target column {name!r} has one class ({labels[0]!r}); classification "
            "needs at least two",
            "target",
        )
    return Target(name, kind, task, labels)


def _labels(summary: ColumnSummary) -> list:
    if summary.kind != "numeric":
        return sorted(summary.counts)
    unique = sorted({float(v) for v in summary.counts})
    return [int(u) for u in unique] if summary.whole else unique


def encode_target(values: np.ndarray, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """(y, mask of the rows kept): class indices or floats; rows with no target dropped."""
    if target.task == "regression":
        y = to_float(values)
        keep = ~np.isnan(y)
        return y[keep], keep
    keep = np.array([v is not None for v in values], dtype=bool)
    if target.classes and not isinstance(target.classes[0], str):
        numbers = to_float(values)
        keep &= ~np.isnan(numbers)
        y = np.searchsorted(np.asarray(target.classes, dtype=np.float64), numbers[keep])
    else:
        index = {label: i for i, label in enumerate(target.classes)}
        y = np.array([index[str(v)] for v in values[keep]], dtype=np.int64)
    return y.astype(np.int64), keep


def load_table(
    path: Path, layout: TableLayout, target: str, task: str | None, drop: list[str]
) -> tuple[TabularData, list[str]]:
    """An uploaded table's rows as TabularData (raw object cells) and each feature
    column's kind."""
    if target not in layout.columns:
        raise DataFileError(f"no column named {target!r}", "target")
    cells = read_table(path, layout)
    t = layout.columns.index(target)
    spec = analyse_target(cells[:, t], target, task)
    y, keep = encode_target(cells[:, t], spec)
    features = [j for j, name in enumerate(layout.columns) if j != t and name not in drop]
    X = cells[keep][:, features]
    kinds = [ColumnSummary.of(X[:, i]).kind for i in range(X.shape[1])]
    data = TabularData(
        X=X,
        y=y,
        feature_names=[layout.columns[j] for j in features],
        task=spec.task,
        target_name=target,
        column_kinds=kinds,
        classes=spec.classes,
    )
    return data, kinds


def load_npz_table(path: Path, task: str | None, target_name: str = "y") -> TabularData:
    """An .npz as TabularData: tables as float64 N x F, images as float32 N x C x H x W."""
    X, y = read_npz(path)
    spec = analyse_target(y.astype(np.float64).astype(object), target_name, task)
    y_out, _ = encode_target(y.astype(np.float64).astype(object), spec)
    if X.ndim == 3:
        X = X[:, None, :, :]  # N x H x W -> N x 1 x H x W, as the CNN family expects
    X = X.astype(np.float32 if X.ndim == 4 else np.float64)
    names = (
        [f"x{i}" for i in range(X.shape[1])]
        if X.ndim == 2
        else [f"pixels{'x'.join(map(str, X.shape[1:]))}"]
    )
    return TabularData(
        X=X,
        y=y_out,
        feature_names=names,
        task=spec.task,
        target_name=target_name,
        classes=spec.classes,
    )

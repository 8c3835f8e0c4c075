"""Seeded splits of a data set's rows (stratified for classification).

`held_out_rows` is the one held-out split: HPO, NAS and compression hold their test rows
out with it and evaluation recomputes those rows with it, so the same seed and size give
the same rows everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from workers.data.tabular import TabularData


@dataclass
class Split:
    """One train/validation partition."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray


def _take(data: TabularData, train: np.ndarray, valid: np.ndarray) -> Split:
    return Split(data.X[train], data.y[train], data.X[valid], data.y[valid])


def held_out_rows(
    y: np.ndarray,
    test_size: float,
    seed: int,
    *,
    stratify: bool,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) row indices: `rows` (all rows by default) shuffled with the seed
    and cut, keeping each class's share in both parts when stratified."""
    rows = np.arange(len(y)) if rows is None else np.asarray(rows)
    kept, held = train_test_split(
        rows,
        test_size=test_size,
        random_state=seed,
        stratify=np.asarray(y)[rows] if stratify else None,
    )
    return np.asarray(kept), np.asarray(held)


def holdout_split(data: TabularData, test_size: float, seed: int) -> Split:
    """A single shuffled holdout split."""
    train, valid = held_out_rows(data.y, test_size, seed, stratify=data.task == "classification")
    return _take(data, train, valid)


def stratified_sample(data: TabularData, n_rows: int | None, seed: int) -> TabularData:
    """At most n_rows of the data's rows (all of them when n_rows is None or not fewer),
    drawn with the seed, keeping each class's share; rows stay in file order."""
    if n_rows is None or len(data.y) <= n_rows:
        return data
    rows = np.arange(len(data.y))
    stratify = data.y if data.task == "classification" else None
    try:
        kept, _ = train_test_split(rows, train_size=n_rows, random_state=seed, stratify=stratify)
    except ValueError:  # a class too rare to stratify: a plain uniform sample
        kept, _ = train_test_split(rows, train_size=n_rows, random_state=seed)
    kept = np.sort(kept)
    return dataclasses.replace(data, X=data.X[kept], y=data.y[kept])


def kfold_splits(data: TabularData, folds: int, seed: int) -> list[Split]:
    """Shuffled k-fold splits."""
    cls = StratifiedKFold if data.task == "classification" else KFold
    splitter = cls(n_splits=folds, shuffle=True, random_state=seed)
    return [_take(data, tr, va) for tr, va in splitter.split(data.X, data.y)]

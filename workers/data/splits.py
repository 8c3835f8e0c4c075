"""Seeded train/validation splits (stratified for classification)."""

from __future__ import annotations

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


def holdout_split(data: TabularData, test_size: float, seed: int) -> Split:
    """A single shuffled holdout split."""
    stratify = data.y if data.task == "classification" else None
    train, valid = train_test_split(
        np.arange(len(data.y)), test_size=test_size, random_state=seed, stratify=stratify
    )
    return _take(data, train, valid)


def kfold_splits(data: TabularData, folds: int, seed: int) -> list[Split]:
    """Shuffled k-fold splits."""
    cls = StratifiedKFold if data.task == "classification" else KFold
    splitter = cls(n_splits=folds, shuffle=True, random_state=seed)
    return [_take(data, tr, va) for tr, va in splitter.split(data.X, data.y)]

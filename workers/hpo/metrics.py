"""Validation metrics by name, with the direction in which they improve."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def _f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return skm.f1_score(y_true, y_pred, average="macro", zero_division=0)


METRICS: dict[str, tuple[MetricFn, str]] = {
    "accuracy": (skm.accuracy_score, "maximize"),
    "balanced_accuracy": (skm.balanced_accuracy_score, "maximize"),
    "f1_macro": (_f1_macro, "maximize"),
    "r2": (skm.r2_score, "maximize"),
    "rmse": (skm.root_mean_squared_error, "minimize"),
    "mae": (skm.mean_absolute_error, "minimize"),
}

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro"),
    "regression": ("r2", "rmse", "mae"),
}


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute a named metric as a plain float."""
    return float(METRICS[metric][0](y_true, y_pred))

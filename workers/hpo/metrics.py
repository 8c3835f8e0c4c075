"""Objectives by name, with the direction in which they improve.

Most are validation metrics computed from labels, class probabilities or values; two
measure the model itself, for multi-objective searches that trade quality for size or
speed: `n_params` (weights, or tree nodes) and `latency_ms` (median time to predict
1000 rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from workers.training.measure import count_params, median_ms

CLASSIFICATION, REGRESSION = ("classification",), ("regression",)
BOTH = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    """An objective; `needs` says what of the model it reads.

    "predict": fn(y_true, predictions); "proba": fn(y_true, probabilities, classes);
    "model": fn(model, X) measures the fitted model on the validation rows X.
    """

    direction: str
    tasks: tuple[str, ...]
    needs: str
    fn: Callable[..., float]


def _f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return skm.f1_score(y_true, y_pred, average="macro", zero_division=0)


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    if len(classes) == 2:
        return skm.roc_auc_score(y_true, proba[:, 1])
    return skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)


def _log_loss(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    return skm.log_loss(y_true, proba, labels=classes)


def latency_ms(model: object, X: np.ndarray, rows: int = 1000, repeats: int = 3) -> float:
    """Median wall time of predicting `rows` rows (the validation rows, repeated)."""
    batch = np.take(X, np.arange(rows) % len(X), axis=0)
    return median_ms(lambda: model.predict(batch), repeats=repeats)


METRICS: dict[str, Metric] = {
    "accuracy": Metric("maximize", CLASSIFICATION, "predict", skm.accuracy_score),
    "balanced_accuracy": Metric(
        "maximize", CLASSIFICATION, "predict", skm.balanced_accuracy_score
    ),
    "f1_macro": Metric("maximize", CLASSIFICATION, "predict", _f1_macro),
    "roc_auc": Metric("maximize", CLASSIFICATION, "proba", _roc_auc),
    "log_loss": Metric("minimize", CLASSIFICATION, "proba", _log_loss),
    "r2": Metric("maximize", REGRESSION, "predict", skm.r2_score),
    "rmse": Metric("minimize", REGRESSION, "predict", skm.root_mean_squared_error),
    "mae": Metric("minimize", REGRESSION, "predict", skm.mean_absolute_error),
    "n_params": Metric("minimize", BOTH, "model", lambda model, X: count_params(model)),
    "latency_ms": Metric("minimize", BOTH, "model", latency_ms),
}

# Per task, in order of preference: the first is the default metric.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    task: tuple(name for name, m in METRICS.items() if task in m.tasks) for task in BOTH
}


def needs_proba(names: list[str]) -> bool:
    return any(METRICS[name].needs == "proba" for name in names)


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """A named label/value metric as a plain float."""
    return float(METRICS[metric].fn(y_true, y_pred))


def evaluate(model: object, names: list[str], X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The named metrics of a fitted model on rows X with targets y."""
    out: dict[str, float] = {}
    predictions = proba = None
    for name in names:
        metric = METRICS[name]
        if metric.needs == "predict":
            predictions = model.predict(X) if predictions is None else predictions
            out[name] = float(metric.fn(y, predictions))
        elif metric.needs == "proba":
            proba = model.predict_proba(X) if proba is None else proba
            out[name] = float(metric.fn(y, proba, np.asarray(model.classes_)))
        else:
            out[name] = float(metric.fn(model, X))
    return out

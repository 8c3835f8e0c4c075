"""Objectives by name, with the direction in which they improve.

Most are validation metrics computed from labels, class probabilities or values; two
measure the model itself, for multi-objective searches that trade quality for size or
speed: `n_params` (weights, or tree nodes) and `latency_ms` (median time to predict
1000 rows).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

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


def count_params(model: object) -> int:
    """Weights of a network or linear model, stored values of SVMs and k-NN, tree nodes."""
    if hasattr(model, "module"):  # a TorchPredictor
        return sum(p.numel() for p in model.module.parameters())
    if hasattr(model, "steps"):  # a Pipeline: the estimator is the last step
        return count_params(model.steps[-1][1])
    if hasattr(model, "calibrated_classifiers_"):  # the model and 2 numbers per calibrator
        return sum(
            count_params(c.estimator) + 2 * len(c.calibrators)
            for c in model.calibrated_classifiers_
        )
    if hasattr(model, "estimators_"):  # forests
        return sum(int(tree.tree_.node_count) for tree in model.estimators_)
    if hasattr(model, "_predictors"):  # HistGradientBoosting
        return sum(len(p.nodes) for iteration in model._predictors for p in iteration)
    if hasattr(model, "support_vectors_"):
        return int(model.support_vectors_.size + model.dual_coef_.size + model.intercept_.size)
    if hasattr(model, "n_samples_fit_"):  # k-NN keeps its training rows
        return int(model.n_samples_fit_ * model.n_features_in_)
    if hasattr(model, "coef_"):
        return int(np.size(model.coef_) + np.size(model.intercept_))
    raise TypeError(f"cannot count the parameters of a {type(model).__name__}")


def latency_ms(model: object, X: np.ndarray, rows: int = 1000, repeats: int = 3) -> float:
    """Median wall time of predicting `rows` rows (the validation rows, repeated)."""
    batch = np.take(X, np.arange(rows) % len(X), axis=0)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(batch)
        times.append(time.perf_counter() - started)
    return 1000.0 * statistics.median(times)


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

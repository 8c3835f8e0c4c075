"""The evaluation report of one model on its held-out rows.

`split_rows` recomputes the rows a job held out (the engines' own seeded split), and
`evaluate` scores a Predictor on them: every metric of the task with a bootstrap
interval, and the curves an analyst reads (confusion matrix, ROC, precision-recall and
calibration for classifiers; residuals and predicted vs actual for regressors).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from workers.data.splits import held_out_rows, kfold_splits
from workers.data.tabular import TabularData
from workers.evaluation.stats import bootstrap_interval
from workers.hpo.metrics import METRICS, TASK_METRICS

if TYPE_CHECKING:
    from workers.hpo.config import HPOConfig

MAX_CURVE_POINTS = 300  # per curve: enough for a chart, small enough for JSON
MAX_SCATTER_POINTS = 2000
CALIBRATION_BINS = 10


@dataclass
class Predictor:
    """A loaded model behind its preprocessing, taking raw rows as served.

    Args:
        model: a TorchPredictor or a fitted sklearn estimator.
        transformer: the fitted preprocessing, or None.
        spec: the model's spec.json.
    """

    model: Any
    transformer: Any = None
    spec: dict = dataclasses.field(default_factory=dict)

    def inputs(self, X: np.ndarray) -> np.ndarray:
        # A TorchPredictor shapes the rows itself (its kind's model_input).
        return X if self.transformer is None else self.transformer.transform(X)

    @property
    def classes(self) -> np.ndarray | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else np.asarray(classes)

    @property
    def has_proba(self) -> bool:
        return self.classes is not None and hasattr(self.model, "predict_proba")

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(self.inputs(X)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self.inputs(X)), dtype=np.float64)


def split_rows(
    y: np.ndarray, task: str, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(search, test) row indices, in the order the HPO, NAS and compression engines draw
    them (their one held-out split, stratified for classification). The order matters:
    the job's CV folds were cut from the search rows in this order."""
    return held_out_rows(y, test_size, seed, stratify=task == "classification")


def metric_names(task: str, has_proba: bool) -> list[str]:
    """The task's metrics that read answers (not the model's size or speed)."""
    return [
        name
        for name in TASK_METRICS[task]
        if METRICS[name].needs == "predict" or (METRICS[name].needs == "proba" and has_proba)
    ]


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """At most MAX_CURVE_POINTS evenly spaced points of each array, ends kept."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round().astype(int))
    return [np.asarray(a, dtype=np.float64)[keep].tolist() for a in arrays]


def _jsonable_labels(values) -> list:
    return [
        v if isinstance(v, (str, int, float, bool)) else str(v)
        for v in np.asarray(values).tolist()
    ]


def score_rows(
    name: str,
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    classes: np.ndarray | None,
    rows: np.ndarray | slice = slice(None),
) -> float:
    """The metric `name` on the given rows."""
    metric = METRICS[name]
    if metric.needs == "proba":
        return float(metric.fn(y[rows], proba[rows], classes))
    return float(metric.fn(y[rows], pred[rows]))


def evaluate(
    predictor: Predictor,
    X: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    class_names: list | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[dict, dict]:
    """Score predictor on rows X with targets y.

    Returns:
        (report, answers): the JSON report, and {"y_true", "y_pred"} (plus "correct" for
        classifiers) that comparisons between two models on the same rows read.
    """
    pred = predictor.predict(X)
    proba = (
        predictor.predict_proba(X) if task == "classification" and predictor.has_proba else None
    )
    classes = predictor.classes
    names = metric_names(task, proba is not None)
    metrics = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resamples missing a class warn; they are counted
        for name in names:
            interval = bootstrap_interval(
                lambda rows, name=name: score_rows(name, y, pred, proba, classes, rows),
                len(y),
                n_resamples=n_resamples,
                seed=seed,
            )
            metrics[name] = {
                "value": score_rows(name, y, pred, proba, classes),
                "direction": METRICS[name].direction,
                **interval,
            }
    report: dict[str, Any] = {
        "task": task,
        "n_rows": int(len(y)),
        "metrics": metrics,
        "bootstrap": {
            "n_resamples": n_resamples,
            "seed": seed,
            "method": "percentile",
            "level": 0.95,
        },
    }
    answers: dict[str, Any] = {"y_true": np.asarray(y).tolist(), "y_pred": pred.tolist()}
    if task == "classification":
        labels = classes if classes is not None else np.unique(np.concatenate([y, pred]))
        names_shown = (
            class_names
            if class_names and len(class_names) == len(labels)
            else _jsonable_labels(labels)
        )
        report["classes"] = names_shown
        report["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
        if proba is not None:
            report.update(_probability_curves(y, proba, labels, names_shown))
        answers["correct"] = (pred == y).tolist()
    else:
        report.update(_residuals(y, pred, seed))
    return report, answers


def _probability_curves(
    y: np.ndarray, proba: np.ndarray, classes: np.ndarray, names: list
) -> dict:
    """ROC and PR curves (the positive class, or one-vs-rest per class) and calibration
    (the positive class, or top-label confidence for several classes)."""
    binary = len(classes) == 2
    targets = [1] if binary else range(len(classes))
    roc, pr = [], []
    for k in targets:
        truth = (y == classes[k]).astype(int)
        if truth.min() == truth.max():
            continue  # a class absent from the test rows has no curve
        fpr, tpr, _ = skm.roc_curve(truth, proba[:, k])
        precision, recall, _ = skm.precision_recall_curve(truth, proba[:, k])
        fpr, tpr = _thin(fpr, tpr)
        precision, recall = _thin(precision, recall)
        roc.append(
            {
                "class": names[k],
                "fpr": fpr,
                "tpr": tpr,
                "auc": float(skm.roc_auc_score(truth, proba[:, k])),
            }
        )
        pr.append(
            {
                "class": names[k],
                "precision": precision,
                "recall": recall,
                "average_precision": float(skm.average_precision_score(truth, proba[:, k])),
                "prevalence": float(truth.mean()),
            }
        )
    if binary:
        truth, confidence = (y == classes[1]).astype(int), proba[:, 1]
        kind = f"probability of {names[1]}"
    else:
        top = proba.argmax(axis=1)
        truth, confidence = (classes[top] == y).astype(int), proba.max(axis=1)
        kind = "confidence of the predicted class"
    observed, predicted = calibration_curve(truth, confidence, n_bins=CALIBRATION_BINS)
    counts = np.histogram(confidence, bins=CALIBRATION_BINS, range=(0, 1))[0]
    return {
        "roc": roc,
        "pr": pr,
        "calibration": {
            "kind": kind,
            "predicted": predicted.tolist(),
            "observed": observed.tolist(),
            "bin_counts": counts.tolist(),
            "brier": float(np.mean((confidence - truth) ** 2)),
        },
    }


def _residuals(y: np.ndarray, pred: np.ndarray, seed: int) -> dict:
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    residual = y - pred
    shown = np.arange(len(y))
    if len(y) > MAX_SCATTER_POINTS:  # a seeded sample keeps the scatter readable
        shown = np.sort(
            np.random.default_rng(seed).choice(len(y), MAX_SCATTER_POINTS, replace=False)
        )
    return {
        "residuals": {
            "actual": y[shown].tolist(),
            "predicted": pred[shown].tolist(),
            "residual": residual[shown].tolist(),
            "mean": float(residual.mean()),
            "std": float(residual.std()),
            "shown": int(len(shown)),
        }
    }


def permutation_importances(
    predictor: Predictor,
    X: np.ndarray,
    y: np.ndarray,
    metric: str,
    feature_names: list[str],
    *,
    n_repeats: int = 10,
    seed: int = 0,
) -> dict:
    """How much `metric` worsens when each column is shuffled (mean and std over repeats).

    The shuffles are drawn as sklearn.inspection.permutation_importance draws them with
    random_state=seed, so both give the same numbers; sklearn's needs an estimator with
    fit(), which a TorchPredictor behind its preprocessing is not.
    """
    sign = 1.0 if METRICS[metric].direction == "maximize" else -1.0
    classes = predictor.classes

    def score(rows_X: np.ndarray) -> float:
        proba = predictor.predict_proba(rows_X) if METRICS[metric].needs == "proba" else None
        pred = None if proba is not None else predictor.predict(rows_X)
        return sign * score_rows(metric, y, pred, proba, classes)

    X = np.asarray(X)
    baseline = score(X)
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    out = []
    for j, name in enumerate(feature_names):
        rng = np.random.RandomState(column_seed)
        shuffled, order, drops = X.copy(), np.arange(len(X)), []
        for _ in range(n_repeats):
            rng.shuffle(order)
            shuffled[:, j] = shuffled[order, j]
            drops.append(baseline - score(shuffled))
        out.append({"feature": name, "mean": float(np.mean(drops)), "std": float(np.std(drops))})
    out.sort(key=lambda item: -item["mean"])
    return {
        "metric": metric,
        "n_repeats": n_repeats,
        "seed": seed,
        "baseline": sign * baseline,
        "features": out,
    }


def cross_validation(config: HPOConfig, params: dict, search: TabularData, metric: str) -> dict:
    """Refit the chosen params on each CV fold of the search rows, as the job's trials did,
    and score `metric` per fold: the spread a trial's single mean value hides."""
    from workers.hpo.objective import fit, score

    splits = kfold_splits(search, config.validation.folds, config.seed)
    scores = []
    for split in splits:
        fitted = fit(
            config,
            params,
            split.X_train,
            split.y_train,
            make_transformer=search.make_transformer,
            proba=METRICS[metric].needs == "proba",
        )
        scores.append(score(fitted, [metric], split.X_valid, split.y_valid)[metric])
    return {
        "metric": metric,
        "folds": len(scores),
        "scores": scores,
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores, ddof=1)),
    }


def take_rows(data: TabularData, rows: np.ndarray) -> TabularData:
    return dataclasses.replace(data, X=data.X[rows], y=data.y[rows])

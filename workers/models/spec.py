"""What a spec says about the model's rows and answers (numpy only: serving reads it
before any model is loaded). Saving writes these keys with `data_spec`."""

from __future__ import annotations

from typing import Any

import numpy as np


def data_spec(
    feature_names: list[str],
    classes: list | None,
    *,
    target: str | None = None,
    dropped: list[str] | None = None,
) -> dict:
    """The spec keys that say what the model's rows and answers mean.

    ``features``: the raw input columns in order; ``class_labels``: what the class indices
    the model was trained on stand for (the data's own labels); ``ignored_columns``: columns
    of the data set a full raw row may carry that the model does not read (the target, the
    columns the preprocessing drops).
    """
    spec: dict = {"features": list(feature_names)}
    if classes is not None:
        spec["class_labels"] = [
            c if isinstance(c, (str, int, float, bool)) else str(c) for c in classes
        ]
    ignored = [c for c in [target, *(dropped or [])] if c is not None]
    if ignored:
        spec["ignored_columns"] = list(dict.fromkeys(ignored))
    return spec


def output_labels(spec: dict, classes: Any) -> np.ndarray:
    """The labels a classifier's `classes` (its outputs' order) stand for in the data.

    Models are trained on class indices when the data names its classes (class_labels);
    their answers are given back in the data's own labels.
    """
    classes = np.asarray(classes)
    labels = spec.get("class_labels")
    if labels is None or classes.dtype.kind not in "iu":
        return classes
    if len(classes) and (classes.min() < 0 or classes.max() >= len(labels)):
        return classes
    return np.asarray(labels, dtype=object)[classes]


def decode_predictions(spec: dict, predictions: Any, classes: Any) -> np.ndarray:
    """Class predictions (entries of `classes`) in the data's own labels."""
    predictions = np.asarray(predictions)
    if classes is None or spec.get("class_labels") is None:
        return predictions
    label = dict(zip(np.asarray(classes).tolist(), output_labels(spec, classes), strict=True))
    return np.asarray([label.get(p, p) for p in predictions.tolist()], dtype=object)


def ignored_columns(spec: dict) -> frozenset[str]:
    """Columns a served raw row may carry that the model does not read."""
    return frozenset(str(c) for c in spec.get("ignored_columns") or ())

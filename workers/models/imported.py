"""What every imported model's predictor shares: the spec's task and classes read once, and
its raw answers (N x classes scores, or N values) turned into sklearn's predict and
predict_proba. A kind supplies how its file answers rows (`_raw`), its error type and the
words its messages use."""

from __future__ import annotations

import numpy as np


class ImportedPredictor:
    """A sklearn-like predictor (predict, predict_proba, classes_) over a file trained
    elsewhere. Subclasses set `error`, `noun` ("graph", "program"), `answers` (what its
    N x classes outputs are called) and implement `_raw`."""

    error: type[ValueError] = ValueError
    noun = "model"
    answers = "logits"
    scores = "logits"  # or "probabilities": outputs already summing to one

    def _read_task(self, spec: dict) -> None:
        """The spec's task and, for classification, its classes (the outputs' labels)."""
        self.spec = spec
        self.task = spec.get("task", "classification")
        if self.task not in ("classification", "regression"):
            raise self.error(f"unknown task {self.task!r}")
        classes = spec.get("classes")
        if self.task == "classification" and not classes:
            raise self.error(
                f"a classification {self.noun} needs spec.classes (its outputs' labels)"
            )
        self.classes_ = np.asarray(classes) if self.task == "classification" else None

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        """The file's answers to N x features float32 rows."""
        raise NotImplementedError

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        rows = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        out = np.asarray(self._raw(rows), dtype=np.float64)
        if self.task == "regression":
            return out.reshape(len(rows))
        if out.ndim != 2 or out.shape[1] != len(self.classes_):
            raise self.error(
                f"the {self.noun} answers {list(out.shape)}, "
                f"not N x {len(self.classes_)} {self.answers}"
            )
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for classification")
        out = self._outputs(X)
        if self.scores == "probabilities":
            return out
        out -= out.max(axis=1, keepdims=True)
        proba = np.exp(out)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = self._outputs(X)
        return self.classes_[out.argmax(axis=1)] if self.task == "classification" else out

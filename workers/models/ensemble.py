"""A weighted ensemble of fitted models, as one scikit-learn estimator.

Members are the refit trials of an HPO job, each a Pipeline of its own fitted preprocessing
and model (or the model alone), so the ensemble takes raw rows as every member does. It
predicts the weighted mean of its members' class probabilities (classification) or values
(regression); with a stacked layer, a logistic regression or ridge model fitted on the
members' outputs predicts instead. The whole is stored as one skops file (no pickle; the
registry keeps a version as flat files), beside a spec.json whose "ensemble" entry lists
the members' trials, families, params and weights.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator


class WeightedEnsemble(BaseEstimator):
    """Fitted members and their weights (summing to 1); `stack` replaces the weighted mean
    by a model fitted on the members' outputs side by side."""

    def __init__(self, members=None, weights=None, task="classification", stack=None):
        self.members = members
        self.weights = weights
        self.task = task
        self.stack = stack

    def fit(self, X, y=None):
        raise NotImplementedError(
            "an ensemble is assembled from fitted members (workers/hpo/ensemble.py)"
        )

    def fitted(self, n_features: int) -> WeightedEnsemble:
        """Mark it fitted: the members were fitted elsewhere (on the same rows)."""
        self.weights_ = np.asarray(self.weights, dtype=np.float64)
        self.n_features_in_ = n_features
        if self.task == "classification":
            self.classes_ = np.asarray(self.members[0].classes_)
        return self

    def outputs(self, X) -> list[np.ndarray]:
        """Each member's class probabilities (N x classes) or values (N)."""
        if self.task == "classification":
            return [m.predict_proba(X) for m in self.members]
        return [np.asarray(m.predict(X), dtype=np.float64) for m in self.members]

    def _combine(self, outputs: list[np.ndarray]) -> np.ndarray:
        if self.stack is not None:
            side_by_side = np.column_stack([o.reshape(len(o), -1) for o in outputs])
            if self.task == "classification":
                return self.stack.predict_proba(side_by_side)
            return self.stack.predict(side_by_side)
        return sum(w * o for w, o in zip(self.weights_, outputs, strict=True) if w > 0)

    def predict_proba(self, X) -> np.ndarray:
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for classification")
        return self._combine(self.outputs(X))

    def predict(self, X) -> np.ndarray:
        combined = self._combine(self.outputs(X))
        if self.task == "classification":
            return self.classes_[np.argmax(combined, axis=1)]
        return combined

"""What the LightGBM and XGBoost families share: the rows their native early stopping
watches, and a view of a booster part-way through training for the platform's pruner.

Both libraries train round by round and call back after each round: every GROWTH rounds
the callback hands ctx.on_step a BoosterView (predict / predict_proba of the rounds so
far), so the trial's pruner and deadline act inside the one fit (a TrialPruned raised
there stops training, as Optuna's own LightGBM and XGBoost pruning callbacks do). Early
stopping is the libraries' own, on EARLY_STOPPING_SHARE of the fit's rows held out from
the trees (stratified for classification): the refit of the best trial does the same, so
the saved model stops where a trial would.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.model_selection import train_test_split

from workers.hpo.families._base import FitContext

EARLY_STOPPING_SHARE = 0.1
DEFAULT_EARLY_STOPPING_ROUNDS = 20


def early_stopping_rows(X: np.ndarray, y: np.ndarray, ctx: FitContext):
    """(X_fit, y_fit, X_stop, y_stop): the rows the trees learn from and those that stop them."""
    stratify = y if ctx.task == "classification" else None
    try:
        parts = train_test_split(
            X, y, test_size=EARLY_STOPPING_SHARE, random_state=ctx.seed, stratify=stratify
        )
    except ValueError:  # a class too rare to stratify
        parts = train_test_split(X, y, test_size=EARLY_STOPPING_SHARE, random_state=ctx.seed)
    X_fit, X_stop, y_fit, y_stop = parts
    return X_fit, y_fit, X_stop, y_stop


class BoosterView:
    """The model as trained so far, as the objective scores it.

    `scores(X)` is the booster's output for the rounds so far: class probabilities
    (N x k, or N for two classes: the second class's) or regression values.
    """

    def __init__(self, scores: Callable[[np.ndarray], np.ndarray], task: str, y: np.ndarray):
        self.scores = scores
        self.task = task
        self.classes_ = np.unique(y) if task == "classification" else None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(self.scores(X))
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.task == "classification":
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return np.asarray(self.scores(X))

"""Histogram gradient boosting, grown GROWTH iterations per step (warm start)."""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from workers.hpo.families._base import ModelFamily, float_, grow, int_, register


@register
class HistGradientBoostingFamily(ModelFamily):
    name = "hist_gradient_boosting"
    cost = 2
    fidelity = ("max_iter",)
    tasks = ("classification", "regression")
    params = (
        "max_iter",
        "learning_rate",
        "max_leaf_nodes",
        "min_samples_leaf",
        "l2_regularization",
    )
    limits = {"max_iter": 2000, "max_leaf_nodes": 4096}

    def default_space(self, task):
        return {
            "max_iter": int_(20, 100, log=True),
            "learning_rate": float_(0.01, 0.3, log=True),
            "max_leaf_nodes": int_(8, 64, log=True),
            "min_samples_leaf": int_(2, 30, log=True),
        }

    def fit(self, params, X, y, ctx):
        cls = (
            HistGradientBoostingClassifier
            if ctx.task == "classification"
            else HistGradientBoostingRegressor
        )
        model = cls(
            learning_rate=params.get("learning_rate", 0.1),
            max_leaf_nodes=params.get("max_leaf_nodes", 31),
            min_samples_leaf=params.get("min_samples_leaf", 20),
            l2_regularization=params.get("l2_regularization", 0.0),
            early_stopping=False,  # the pruner decides when to stop
            warm_start=True,
            random_state=ctx.seed,
        )
        return grow(model, "max_iter", params.get("max_iter", 100), X, y, ctx)

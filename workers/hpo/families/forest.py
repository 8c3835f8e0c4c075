"""Random forests, grown GROWTH trees per step (warm start) so that pruning can act."""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from workers.hpo.families._base import ModelFamily, categorical, grow, int_, register


@register
class RandomForestFamily(ModelFamily):
    name = "random_forest"
    cost = 2
    fidelity = ("n_estimators",)
    tasks = ("classification", "regression")
    params = ("n_estimators", "max_depth", "min_samples_leaf", "max_features")
    limits = {"n_estimators": 2000, "max_depth": 100}

    def default_space(self, task):
        return {
            "n_estimators": int_(10, 100, log=True),
            "max_depth": int_(2, 16, log=True),
            "min_samples_leaf": int_(1, 10),
            "max_features": categorical(["sqrt", 1.0]),
        }

    def fit(self, params, X, y, ctx):
        cls = RandomForestClassifier if ctx.task == "classification" else RandomForestRegressor
        forest = cls(
            max_depth=params.get("max_depth"),
            min_samples_leaf=params.get("min_samples_leaf", 1),
            max_features=params.get("max_features", "sqrt"),
            warm_start=True,
            random_state=ctx.seed,
            n_jobs=1,  # the worker decides parallelism, not each model
        )
        return grow(forest, "n_estimators", params.get("n_estimators", 100), X, y, ctx)

"""k-nearest neighbours on standardised features."""

from __future__ import annotations

from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workers.hpo.families._base import ModelFamily, categorical, int_, register


@register
class KNNFamily(ModelFamily):
    name = "knn"
    cost = 1
    tasks = ("classification", "regression")
    params = ("n_neighbors", "weights", "p")
    limits = {"n_neighbors": 1000}

    def default_space(self, task):
        return {
            "n_neighbors": int_(1, 30, log=True),
            "weights": categorical(["uniform", "distance"]),
            "p": categorical([1, 2]),
        }

    def fit(self, params, X, y, ctx):
        cls = KNeighborsClassifier if ctx.task == "classification" else KNeighborsRegressor
        knn = cls(
            n_neighbors=params.get("n_neighbors", 5),
            weights=params.get("weights", "uniform"),
            p=params.get("p", 2),
        )
        return make_pipeline(StandardScaler(), knn).fit(X, y)

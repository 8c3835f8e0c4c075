"""Linear models: logistic regression (classification) and ridge (regression)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from workers.hpo.families._base import ModelFamily, float_, register


@register
class LogisticRegressionFamily(ModelFamily):
    name = "logistic_regression"
    cost = 0
    tasks = ("classification",)
    params = ("C",)

    def default_space(self, task):
        return {"C": float_(1e-3, 1e3, log=True)}

    def fit(self, params, X, y, ctx):
        clf = LogisticRegression(C=params.get("C", 1.0), max_iter=1000, random_state=ctx.seed)
        return make_pipeline(StandardScaler(), clf).fit(X, y)


@register
class RidgeFamily(ModelFamily):
    name = "ridge"
    cost = 0
    tasks = ("regression",)
    params = ("alpha",)

    def default_space(self, task):
        return {"alpha": float_(1e-3, 1e3, log=True)}

    def fit(self, params, X, y, ctx):
        return make_pipeline(StandardScaler(), Ridge(alpha=params.get("alpha", 1.0))).fit(X, y)

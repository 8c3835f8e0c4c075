"""Support vector machines on standardised features."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from workers.hpo.families._base import ModelFamily, categorical, float_, register


@register
class SVMFamily(ModelFamily):
    name = "svm"
    cost = 3
    tasks = ("classification", "regression")
    comfortable_rows = 20_000
    params = ("C", "kernel", "gamma", "epsilon")

    def default_space(self, task):
        return {
            "C": float_(1e-2, 1e2, log=True),
            "kernel": categorical(["rbf", "linear"]),
            "gamma": float_(1e-3, 1.0, log=True),
        }

    def fit(self, params, X, y, ctx):
        common = {
            "C": params.get("C", 1.0),
            "kernel": params.get("kernel", "rbf"),
            "gamma": params.get("gamma", "scale"),
        }
        if ctx.task == "classification":
            svm = SVC(**common, random_state=ctx.seed)
            if ctx.needs_proba:  # Platt scaling costs 3 more fits: only when probabilities count
                svm = CalibratedClassifierCV(svm, method="sigmoid", cv=3, ensemble=False)
        else:
            svm = SVR(**common, epsilon=params.get("epsilon", 0.1))
        return make_pipeline(StandardScaler(), svm).fit(X, y)

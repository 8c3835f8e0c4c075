"""Every metric against scikit-learn computed directly."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression, Ridge

from workers.data.builtin import load_builtin
from workers.hpo.metrics import METRICS, evaluate

BINARY = (load_builtin("breast_cancer"), LogisticRegression(max_iter=5000))
IRIS = (load_builtin("iris"), LogisticRegression(max_iter=1000))
DIABETES = (load_builtin("diabetes"), Ridge())

DIRECT = {
    "accuracy": lambda y, m, X: skm.accuracy_score(y, m.predict(X)),
    "balanced_accuracy": lambda y, m, X: skm.balanced_accuracy_score(y, m.predict(X)),
    "f1_macro": lambda y, m, X: skm.f1_score(y, m.predict(X), average="macro"),
    "roc_auc": lambda y, m, X: skm.roc_auc_score(
        y,
        m.predict_proba(X)[:, 1] if len(m.classes_) == 2 else m.predict_proba(X),
        multi_class="ovr",
    ),
    "log_loss": lambda y, m, X: skm.log_loss(y, m.predict_proba(X)),
    "r2": lambda y, m, X: skm.r2_score(y, m.predict(X)),
    "rmse": lambda y, m, X: np.sqrt(skm.mean_squared_error(y, m.predict(X))),
    "mae": lambda y, m, X: skm.mean_absolute_error(y, m.predict(X)),
    "n_params": lambda y, m, X: m.coef_.size + np.size(m.intercept_),
}
CASES = [
    (name, data)
    for name in METRICS
    if name != "latency_ms"
    for data in (
        (BINARY, IRIS)
        if METRICS[name].tasks == ("classification",)
        else (DIABETES,)
        if METRICS[name].tasks == ("regression",)
        else (IRIS, DIABETES)
    )
]


@pytest.mark.parametrize(("name", "case"), CASES)
def test_metric_matches_sklearn(name, case):
    data, model = case
    model.fit(data.X[::2], data.y[::2])
    X, y = data.X[1::2], data.y[1::2]
    assert evaluate(model, [name], X, y)[name] == pytest.approx(DIRECT[name](y, model, X))


def test_latency_is_positive_milliseconds():
    data, model = IRIS
    model.fit(data.X, data.y)
    assert 0 < evaluate(model, ["latency_ms"], data.X, data.y)["latency_ms"] < 10_000

"""The evaluation engine's numbers against direct sklearn, scipy and numpy computations."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression

from workers.data.builtin import load_builtin
from workers.data.splits import holdout_split
from workers.evaluation import stats
from workers.evaluation.explain import explain
from workers.evaluation.report import Predictor, evaluate, permutation_importances, split_rows
from workers.models.artifacts import TorchPredictor

SEED = 3


@pytest.fixture(scope="module")
def iris_model():
    X, y = load_iris(return_X_y=True)
    search, test = split_rows(y, "classification", 0.3, SEED)
    model = LogisticRegression(max_iter=200).fit(X[search][:, :2], y[search])  # weak on purpose
    return model, X[test][:, :2], y[test]


def direct_bootstrap(fn, n, seed, n_resamples):
    rng = np.random.default_rng(seed)
    values = [fn(rows) for rows in rng.integers(0, n, size=(n_resamples, n))]
    return np.percentile(values, [2.5, 97.5])


def test_it_holds_out_the_rows_the_hpo_engine_holds_out():
    data = load_builtin("wine")
    search, test = split_rows(data.y, "classification", 0.25, 7)
    split = holdout_split(data, 0.25, 7)
    np.testing.assert_array_equal(data.X[test], split.X_valid)
    np.testing.assert_array_equal(data.X[search], split.X_train)  # same order: CV folds agree


def test_it_reports_sklearns_metrics_matrix_and_curves(iris_model):
    model, X, y = iris_model
    report, answers = evaluate(
        Predictor(model), X, y, task="classification", n_resamples=200, seed=SEED
    )
    pred, proba = model.predict(X), model.predict_proba(X)
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, pred))
    assert report["metrics"]["f1_macro"]["value"] == pytest.approx(
        skm.f1_score(y, pred, average="macro")
    )
    assert report["metrics"]["roc_auc"]["value"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr")
    )
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    for k, curve in enumerate(report["roc"]):
        assert curve["auc"] == pytest.approx(skm.roc_auc_score(y == k, proba[:, k]))
        assert curve["fpr"][0] == 0 and curve["tpr"][-1] == 1
    for k, curve in enumerate(report["pr"]):
        assert curve["average_precision"] == pytest.approx(
            skm.average_precision_score(y == k, proba[:, k])
        )
    confidence = proba.max(axis=1)
    assert report["calibration"]["brier"] == pytest.approx(
        np.mean((confidence - (proba.argmax(axis=1) == y)) ** 2)
    )
    assert answers["correct"] == (pred == y).tolist()


def test_bootstrap_intervals_are_a_direct_numpy_bootstrap(iris_model):
    model, X, y = iris_model
    report, _ = evaluate(Predictor(model), X, y, task="classification", n_resamples=300, seed=SEED)
    pred = model.predict(X)
    accuracy = report["metrics"]["accuracy"]
    low, high = direct_bootstrap(lambda r: np.mean(pred[r] == y[r]), len(y), SEED, 300)
    assert (accuracy["low"], accuracy["high"]) == pytest.approx((low, high))
    for name, metric in report["metrics"].items():
        assert metric["low"] <= metric["value"] <= metric["high"], name
        assert metric["high"] > metric["low"], name  # a weak model: real spread


def test_regression_residuals_and_intervals():
    X, y = load_diabetes(return_X_y=True)
    search, test = split_rows(y, "regression", 0.2, SEED)
    model = LinearRegression().fit(X[search], y[search])
    report, _ = evaluate(
        Predictor(model), X[test], y[test], task="regression", n_resamples=200, seed=SEED
    )
    pred = model.predict(X[test])
    assert report["metrics"]["rmse"]["value"] == pytest.approx(
        skm.root_mean_squared_error(y[test], pred)
    )
    assert report["metrics"]["r2"]["value"] == pytest.approx(skm.r2_score(y[test], pred))
    residuals = report["residuals"]
    np.testing.assert_allclose(residuals["residual"], y[test] - pred)
    assert residuals["mean"] == pytest.approx(np.mean(y[test] - pred))
    low, high = direct_bootstrap(
        lambda r: skm.mean_absolute_error(y[test][r], pred[r]), len(test), SEED, 200
    )
    assert (report["metrics"]["mae"]["low"], report["metrics"]["mae"]["high"]) == pytest.approx(
        (low, high)
    )


def test_permutation_importances_are_sklearns(iris_model):
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X[:120], y[:120])
    ours = permutation_importances(
        Predictor(model), X[120:], y[120:], "accuracy", list("abcd"), n_repeats=5, seed=SEED
    )
    theirs = permutation_importance(
        model, X[120:], y[120:], scoring="accuracy", n_repeats=5, random_state=SEED
    )
    by_name = {f["feature"]: f for f in ours["features"]}
    for j, name in enumerate("abcd"):
        assert by_name[name]["mean"] == pytest.approx(theirs.importances_mean[j])
        assert by_name[name]["std"] == pytest.approx(theirs.importances_std[j])


@pytest.mark.parametrize(("only_a", "only_b"), [(2, 9), (30, 12), (0, 0)])
def test_mcnemar_is_scipys(only_a, only_b):
    both, neither = 40, 5
    a = np.array([1] * only_a + [0] * only_b + [1] * both + [0] * neither, bool)
    b = np.array([0] * only_a + [1] * only_b + [1] * both + [0] * neither, bool)
    result = stats.mcnemar(a, b)
    n = only_a + only_b
    if n == 0:
        expected = 1.0
    elif n < stats.EXACT_BELOW:
        expected = scipy_stats.binomtest(only_b, n, 0.5).pvalue
        assert "exact" in result["test"]
    else:
        expected = scipy_stats.chi2.sf((abs(only_a - only_b) - 1) ** 2 / n, 1)
        assert "chi-square" in result["test"]
    assert result["p_value"] == pytest.approx(expected)
    assert (result["only_a_right"], result["only_b_right"]) == (only_a, only_b)


def test_paired_bootstrap_is_a_direct_numpy_bootstrap():
    rng = np.random.default_rng(0)
    y = rng.normal(size=60)
    pa, pb = y + rng.normal(scale=1.0, size=60), y + rng.normal(scale=0.6, size=60)

    def rmse(t, p):
        return math.sqrt(np.mean((t - p) ** 2))

    result = stats.paired_bootstrap(rmse, y, pa, pb, n_resamples=500, seed=SEED)
    draws = np.random.default_rng(SEED).integers(0, 60, size=(500, 60))
    diffs = np.array([rmse(y[r], pb[r]) - rmse(y[r], pa[r]) for r in draws])
    observed = rmse(y, pb) - rmse(y, pa)
    assert observed < 0 and result["difference"] == pytest.approx(observed)
    assert result["p_value"] == pytest.approx(2 * (np.sum(diffs >= 0) + 1) / 501)
    assert (result["low"], result["high"]) == pytest.approx(np.percentile(diffs, [2.5, 97.5]))


def test_the_verdict_says_who_is_better_and_how_often_chance_does_that():
    text = stats.verdict("A", "B", "B", "more accurate", 0.003)
    assert text.startswith("B is more accurate than A") and "3 in 1000 cases" in text
    text = stats.verdict("A", "B", "A", "more accurate", 0.4)
    assert "not enough evidence" in text and "400 in 1000" in text
    assert "no difference" in stats.verdict("A", "B", None, "more accurate", 1.0)


def test_occlusion_of_a_linear_model_is_its_coefficients_times_the_change():
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)
    names = [f"f{j}" for j in range(X.shape[1])]
    reference = {
        "features": {
            n: {"kind": "numeric", "mean": float(X[:, j].mean())} for j, n in enumerate(names)
        }
    }
    out = explain(Predictor(model), X[:3], names, "regression", reference)
    assert out["method"] == "occlusion"
    baseline = X.mean(axis=0)
    for i, row in enumerate(out["rows"]):
        expected = model.coef_ * (X[i] - baseline)
        np.testing.assert_allclose([row["attributions"][n] for n in names], expected, atol=1e-9)


def test_integrated_gradients_add_up_to_the_change_in_output():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    X, _ = load_iris(return_X_y=True)
    spec = {  # every torch spec names its kind: the registry shapes the rows
        "kind": "mlp",
        "config": {"n_features": 4},
        "task": "classification",
        "classes": [0, 1, 2],
        "input_mean": X.mean(0).tolist(),
        "input_std": X.std(0).tolist(),
    }
    predictor = Predictor(TorchPredictor(module, spec), None, spec)
    names = ["a", "b", "c", "d"]
    reference = {
        "features": {
            n: {"kind": "numeric", "mean": float(X[:, j].mean())} for j, n in enumerate(names)
        }
    }
    out = explain(predictor, X[[0, 60, 120]], names, "classification", reference)
    assert out["method"] == "integrated_gradients"
    proba = TorchPredictor(module, spec).predict_proba(X[[0, 60, 120]])
    for i, row in enumerate(out["rows"]):
        assert row["output"] == pytest.approx(proba[i].max(), abs=1e-6)
        total = sum(row["attributions"].values())
        assert total == pytest.approx(row["output"] - row["baseline_output"], abs=2e-3)

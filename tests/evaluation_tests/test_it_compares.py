"""GET /api/v1/models/{a}/evaluation/compare/{b}/: McNemar and the paired bootstrap on the
same held-out rows, against scipy and numpy; and the compare page."""

import math

import numpy as np
import pytest
from django.test import Client
from scipy import stats as scipy_stats

from automl.datasets.models import Dataset
from tests.support.factories import evaluated, run_hpo
from workers.evaluation.stats import EXACT_BELOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(alice, iris, model_store):
    forest = evaluated(run_hpo(alice, iris, model="random_forest"))
    knn = evaluated(run_hpo(alice, iris, model="knn"))
    return forest, knn


def test_two_classifiers_get_mcnemars_test(alice_api, bob_api, pair):
    (a, ea), (b, eb) = pair
    body = alice_api.get(f"/api/v1/models/{a.id}/evaluation/compare/{b.id}/").json()
    ca, cb = np.asarray(ea.answers["correct"]), np.asarray(eb.answers["correct"])
    only_a, only_b = int(np.sum(ca & ~cb)), int(np.sum(~ca & cb))
    n = only_a + only_b
    if n == 0:
        expected = 1.0
    elif n < EXACT_BELOW:
        expected = scipy_stats.binomtest(only_b, n, 0.5).pvalue
    else:
        expected = scipy_stats.chi2.sf((abs(only_a - only_b) - 1) ** 2 / n, 1)
    assert body["p_value"] == pytest.approx(expected)
    assert (body["only_a_right"], body["only_b_right"]) == (only_a, only_b)
    assert body["scores"] == {
        "metric": "accuracy",
        "a": pytest.approx(ca.mean()),
        "b": pytest.approx(cb.mean()),
    }
    assert body["n_rows"] == len(ca) and body["summary"].endswith(".")
    assert bob_api.get(f"/api/v1/models/{a.id}/evaluation/compare/{b.id}/").status_code == 404

    client = Client()
    client.force_login(a.owner)
    page = client.get(f"/models/compare/?ids={a.id}&ids={b.id}").content.decode()
    assert "Is the difference real?" in page and body["test"] in page


def test_rows_that_differ_or_a_missing_report_are_a_409(alice, alice_api, pair, iris):
    (a, _), _ = pair
    other_split, _ = evaluated(run_hpo(alice, iris, model="random_forest", seed=11))
    response = alice_api.get(f"/api/v1/models/{a.id}/evaluation/compare/{other_split.id}/")
    assert response.status_code == 409 and "different rows" in response.json()["detail"]
    other_split.evaluation.delete()
    response = alice_api.get(f"/api/v1/models/{a.id}/evaluation/compare/{other_split.id}/")
    assert response.status_code == 409 and "has no evaluation" in response.json()["detail"]
    response = alice_api.get(f"/api/v1/models/{a.id}/evaluation/compare/{a.id}/")
    assert response.status_code == 400


def test_two_regressors_get_a_paired_bootstrap(alice, alice_api, model_store):
    diabetes = Dataset.objects.get(builtin_name="diabetes")
    a, ea = evaluated(run_hpo(alice, diabetes, model="ridge", name="diabetes"))
    b, eb = evaluated(run_hpo(alice, diabetes, model="knn", name="diabetes"))
    body = alice_api.get(f"/api/v1/models/{a.id}/evaluation/compare/{b.id}/").json()
    y = np.asarray(ea.answers["y_true"])
    pa, pb = np.asarray(ea.answers["y_pred"]), np.asarray(eb.answers["y_pred"])

    def rmse(t, p):
        return math.sqrt(np.mean((t - p) ** 2))

    draws = np.random.default_rng(0).integers(0, len(y), size=(200, len(y)))
    diffs = np.array([rmse(y[r], pb[r]) - rmse(y[r], pa[r]) for r in draws])
    observed = rmse(y, pb) - rmse(y, pa)
    flipped = np.sum(diffs <= 0) if observed > 0 else np.sum(diffs >= 0)
    assert body["test"] == "paired bootstrap"
    assert body["difference"] == pytest.approx(observed)
    assert body["p_value"] == pytest.approx(min(1.0, 2 * (flipped + 1) / 201))
    assert body["better"] == (b.id if observed < 0 else a.id)

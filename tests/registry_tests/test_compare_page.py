"""The compare page overlays the compared versions' ROC and precision-recall curves."""

import html
import json
import re

import pytest

from tests.support.api import browser_for
from tests.support.factories import evaluated, forest_dir, register, run_hpo

pytestmark = pytest.mark.django_db


def figures(page: str) -> list[dict]:
    return [json.loads(html.unescape(f)) for f in re.findall(r'data-figure="([^"]*)"', page)]


def test_overlaid_roc_and_pr_curves_of_the_compared_versions(alice, iris, model_store, tmp_path):
    forest, forest_eval = evaluated(run_hpo(alice, iris, model="random_forest"))
    knn, knn_eval = evaluated(run_hpo(alice, iris, model="knn"))
    fresh = register(alice, forest_dir(tmp_path / "fresh"), name="fresh")
    client = browser_for(alice)
    page = client.get(f"/models/compare/?ids={forest.id},{knn.id},{fresh.id}").content.decode()
    curves = page.split('id="curves"')[1].split("</section>")[0]
    roc, pr = figures(curves)
    assert roc["layout"]["title"]["text"] == "ROC of the compared versions"
    assert pr["layout"]["title"]["text"] == "Precision-recall of the compared versions"
    for fig, key, evaluation in ((roc, "roc", forest_eval), (pr, "pr", knn_eval)):
        groups = {t.get("legendgroup") for t in fig["data"]} - {None}
        assert groups == {f"v{forest.version} {forest.name}", f"v{knn.version} {knn.name}"}
        per_version = len(evaluation.report[key])  # one curve per class (one vs rest)
        assert len([t for t in fig["data"] if t.get("legendgroup")]) == 2 * per_version
    # The drawn curve is the report's own.
    first = roc["data"][0]
    assert first["x"] == forest_eval.report["roc"][0]["fpr"]
    assert "Not evaluated yet" in curves and f"/models/{fresh.id}/#evaluation" in curves

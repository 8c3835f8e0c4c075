"""An analyst in Chromium predicts from the deployment playground's form, switches the
model page's tabs, sorts the models list and compares two versions' curves."""

import re

import pytest

from tests.browser.steps import shoot, sign_in
from tests.support.api import upload
from tests.support.data import churn_csv
from tests.support.factories import evaluated, run_hpo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def churn_versions(django_user_model, model_store, artifacts):
    """Two evaluated versions (a forest, then a k-NN) trained on the uploaded churn CSV,
    the forest deployed; their owner signs in as ana."""
    from rest_framework.test import APIClient

    from automl.datasets.models import Dataset
    from automl.serving.traffic import create_deployment

    ana = django_user_model.objects.create_user("ana", password="ana-password-1")
    api = APIClient()
    api.force_authenticate(ana)
    dataset = Dataset.objects.get(
        id=upload(api, "churn.csv", churn_csv(), target="churned").json()["id"]
    )
    forest, _ = evaluated(run_hpo(ana, dataset, name="forest", model="random_forest", n_trials=1))
    knn, _ = evaluated(run_hpo(ana, dataset, name="knn", model="knn", n_trials=1))
    deployment = create_deployment(
        ana,
        name="churn-live",
        model_name=forest.name,
        routes=[{"version": forest.id, "weight": 1}],
    )
    return forest, knn, deployment


def test_playground_tabs_sorting_and_compare(chromium, live_server, churn_versions):
    forest, knn, deployment = churn_versions
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "ana", "ana-password-1")

    # The playground: start from a data set row, change the plan, predict.
    page.goto(f"{live_server.url}/deployments/{deployment.id}/")
    page.get_by_label("Start from row").fill("4")
    page.get_by_role("button", name="Fill from the data set").click()
    page.locator("#picked-row").wait_for()
    assert (
        page.locator("#feature-tenure").input_value() == churn_csv().splitlines()[5].split(";")[0]
    )
    page.locator("#feature-plan").select_option("basic")
    page.locator("#feature-tenure").fill("50")
    page.locator("#playground").get_by_role("button", name="Predict").first.click()
    answer = page.locator("#playground-answer")
    answer.wait_for()
    assert answer.locator(".prediction").inner_text() in ("yes", "no")  # labels, not 0/1
    cells = answer.get_by_role("table", name="probabilities").locator("tbody td").all_inner_texts()
    assert {"yes", "no"} <= set(cells)
    answer.locator(".js-plotly-plot .bars").first.wait_for()  # the bar chart drew
    assert '"tenure": 50' in page.locator("#snippet-curl").inner_text()
    shoot(page, "playground-answer")

    # The model page's tabs: one panel at a time, the address names it.
    page.goto(f"{live_server.url}/models/{forest.id}/")
    assert page.locator("#overview").is_visible() and not page.locator("#files").is_visible()
    page.get_by_role("tab", name="Files").click()
    assert page.locator("#files").is_visible() and not page.locator("#overview").is_visible()
    assert page.url.endswith("#files")
    page.get_by_role("tab", name="Evaluation").click()
    page.locator("#evaluation-panel .js-plotly-plot").first.wait_for()
    shoot(page, "model-tabs-evaluation")

    # The list sorts on the server, both ways.
    page.goto(f"{live_server.url}/models/")
    names = lambda: page.locator("table.models tbody tr td:nth-child(2)").all_inner_texts()  # noqa: E731
    page.locator("thead th", has_text="Name").get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=name"))
    assert names() == ["forest", "knn"]
    page.locator("thead th", has_text="Name").get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=-name"))
    assert names() == ["knn", "forest"]
    shoot(page, "models-sorted")

    # Compare draws both versions' curves on one chart.
    page.locator(f'input[name="ids"][value="{forest.id}"]').check()
    page.locator(f'input[name="ids"][value="{knn.id}"]').check()
    page.get_by_role("button", name="Compare selected").click()
    roc = page.locator("#curves .js-plotly-plot").first
    roc.wait_for()
    legend = roc.locator(".legendtext").evaluate_all("texts => texts.map(t => t.textContent)")
    assert any(t.startswith("v1 forest") for t in legend) and any(
        t.startswith("v1 knn") for t in legend
    )
    shoot(page, "compare-curves")
    assert not errors

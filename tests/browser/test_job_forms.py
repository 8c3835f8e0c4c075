"""The new-job form guides in a real browser: it offers only the models and metrics that
fit the chosen data set, and a wrong submission lists every problem at once, in words."""

import pytest

from tests.browser.steps import shoot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def hpo_form(chromium, live_server, django_user_model):
    """Ana signed in, on a new HPO job's form."""
    django_user_model.objects.create_user("ana", password="ana-password-1")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "ana", "ana-password-1")
    page.goto(f"{live_server.url}/jobs/new/hpo/")
    return page


def offered(page, name: str) -> list[str]:
    return page.locator(f'select[name="{name}"] option:not([disabled])').evaluate_all(
        "options => options.map(o => o.value)"
    )


def test_the_form_offers_what_fits_the_data_set(hpo_form):
    from automl.datasets.models import Dataset

    page = hpo_form
    iris = Dataset.objects.get(builtin_name="iris")
    diabetes = Dataset.objects.get(builtin_name="diabetes")

    page.get_by_label("Dataset", exact=True).select_option(str(iris.id))
    models, metrics = offered(page, "model"), offered(page, "metric")
    assert "logistic_regression" in models and "ridge" not in models and "cnn" not in models
    assert "accuracy" in metrics and "r2" not in metrics
    assert "fit this data set (classification, tabular, 150 rows)" in page.inner_text(
        "form.job-form"
    )
    shoot(page, "job-form-classification")

    page.get_by_label("Model", exact=True).select_option("logistic_regression")
    page.get_by_label("Dataset", exact=True).select_option(str(diabetes.id))
    models, metrics = offered(page, "model"), offered(page, "metric")
    assert "ridge" in models and "logistic_regression" not in models and "r2" in metrics
    # The chosen model no longer fits: the form falls back to auto, not to a refusal.
    assert page.get_by_label("Model", exact=True).input_value() == "auto"

    # Every mistake at once, in words, linked from a summary.
    page.get_by_label("Trials", exact=True).fill("0")
    page.get_by_label("Advanced (JSON)", exact=True).fill(
        '{"search_space": {"alpha": {"type": "float", "low": 2, "high": 1}}}'
    )
    page.get_by_label("Model", exact=True).select_option("ridge")
    page.get_by_role("button", name="Submit job").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "2 things to fix" in summary.inner_text()
    assert "search space › alpha › low: must not exceed high" in summary.inner_text()
    assert "config." not in page.inner_text("form.job-form")
    shoot(page, "job-form-errors")


def test_the_search_space_editor_writes_the_apis_json(hpo_form, live_server):
    from automl.datasets.models import Dataset
    from automl.jobs.models import Job

    page = hpo_form
    iris = Dataset.objects.get(builtin_name="iris")
    page.get_by_label("Dataset", exact=True).select_option(str(iris.id))
    page.get_by_label("Model", exact=True).select_option("knn")
    page.get_by_label("Trials", exact=True).fill("2")

    page.get_by_role("button", name="Fill in the model's defaults").click()
    rows = page.locator("table.space-rows tbody tr")
    assert rows.count() >= 2
    names = page.locator('table.space-rows [data-column="name"] input').evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )
    n = names.index("n_neighbors") + 1
    page.get_by_label(f"Parameter {n}: high", exact=True).fill("9")
    page.get_by_role("button", name=f"Remove parameter {names.index('p') + 1}").click()
    page.get_by_role("button", name="Add a parameter").click()
    last = rows.count()
    page.get_by_label(f"Parameter {last}: name", exact=True).fill("p")
    page.get_by_label(f"Parameter {last}: type", exact=True).select_option("fixed")
    page.get_by_label(f"Parameter {last}: choices", exact=True).fill("1")
    shoot(page, "job-form-search-space")
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(f"{live_server.url}/jobs/*/")

    space = Job.objects.get(owner__username="ana").config["search_space"]
    assert space["n_neighbors"]["high"] == 9 and space["p"] == {"type": "fixed", "value": 1}
    assert space["weights"]["choices"] == ["uniform", "distance"]

    # Run again shows the same rows (in the order the database keeps the keys).
    job = Job.objects.get(owner__username="ana")
    page.goto(f"{live_server.url}/jobs/new/hpo/?from={job.id}")
    shoot(page, "job-form-run-again")
    rows = {
        row[0]: row[1:]
        for row in page.locator("table.space-rows tbody tr").evaluate_all(
            "trs => trs.map(tr => Array.from(tr.querySelectorAll('input, select'))"
            ".map(i => i.type === 'checkbox' ? i.checked : i.value).slice(1))"
        )
    }
    assert rows["n_neighbors"] == ["int", "1", "9", True, ""]
    assert rows["p"] == ["fixed", "", "", False, "1"]

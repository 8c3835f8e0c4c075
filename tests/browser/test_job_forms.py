"""The new-job form guides in a real browser: it offers only the models and metrics that
fit the chosen data set, and a wrong submission lists every problem at once, in words."""

import pytest

from tests.browser.steps import shoot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def offered(page, name: str) -> list[str]:
    return page.locator(f'select[name="{name}"] option:not([disabled])').evaluate_all(
        "options => options.map(o => o.value)"
    )


def test_the_form_offers_what_fits_the_data_set(chromium, live_server, django_user_model):
    from automl.datasets.models import Dataset

    django_user_model.objects.create_user("ana", password="ana-password-1")
    iris = Dataset.objects.get(builtin_name="iris")
    diabetes = Dataset.objects.get(builtin_name="diabetes")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "ana", "ana-password-1")
    page.goto(f"{live_server.url}/jobs/new/hpo/")

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

"""An analyst in a real browser: sign in, upload a CSV, submit an HPO job through the
form, watch it finish, see a chart drawn with data points, cancel another job, and be
refused another user's job. A real worker process runs the jobs."""

import re

import pytest

from automl.jobs.models import Job
from tests.browser.steps import shoot, sign_in
from tests.support.factories import make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FINISH_S = 180


def choose(page, label: str, text: str) -> None:
    """Pick the option of a select whose text starts with `text`."""
    select = page.get_by_label(label, exact=True)
    option = select.locator("option").filter(has_text=re.compile("^" + re.escape(text)))
    select.select_option(option.first.get_attribute("value"))


def test_upload_search_watch_cancel(
    chromium, workers, live_server, django_user_model, settings, tmp_path, analyst_csv
):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    workers.start(ARTIFACT_ROOT=str(settings.ARTIFACT_ROOT))
    django_user_model.objects.create_user("ana", password="ana-password-1")  # not staff
    bob = django_user_model.objects.create_user("bob", password="bob-password-1")
    from automl.datasets.models import Dataset

    bobs_job = make_job(
        bob,
        Dataset.objects.get(builtin_name="iris"),
        name="bob's secret",
        config={"metric": "accuracy"},
        status="succeeded",
    )
    csv = analyst_csv
    base = live_server.url
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)

    sign_in(page, base, "ana", "ana-password-1")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Monitoring").count() == 0  # staff only
    shoot(page, "01-jobs-empty")

    # Upload from the data sets page.
    nav.get_by_role("link", name="Data sets").click()
    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_label("Target", exact=True).fill("churned")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    assert "churn" in page.get_by_role("heading", level=1).inner_text()
    shoot(page, "02-uploaded")

    # Submit an HPO job through the form; the job page follows it to the end.
    nav.get_by_role("link", name="New job").click()
    page.get_by_label("Name", exact=True).fill("churn search")
    choose(page, "Dataset", "churn")
    page.get_by_label("Model", exact=True).select_option("logistic_regression")
    page.get_by_label("Trials", exact=True).fill("4")
    page.get_by_label("Sampler", exact=True).select_option("random")
    shoot(page, "03-form")
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    job_url = page.url
    page.locator("#job-status", has_text="succeeded").wait_for(timeout=FINISH_S * 1000)
    job = Job.objects.get(name="churn search")
    assert job.status == "succeeded", job.error_message
    assert page.locator("#job-trials").inner_text().startswith("4 ")

    # The optimization history is drawn by the bundled plotly.js, with a point per trial.
    history = page.locator(".js-plotly-plot", has_text="Optimization history")
    history.locator(".scatterlayer .point").first.wait_for()
    assert history.locator(".scatterlayer .trace").first.locator(".point").count() == 4
    # The live page swapped in the table's new rows without reloading.
    page.locator("table.trials tbody tr").nth(3).wait_for()
    assert page.locator("table.trials tbody tr").count() == 4
    # Parallel coordinates draw under the site's CSP (the strict plotly.js bundle: no
    # `new Function`), with an axis per parameter and the metric.
    parcoords = page.locator(".js-plotly-plot", has_text="Parallel coordinates")
    parcoords.locator(".parcoords .y-axis").first.wait_for()
    assert parcoords.locator(".parcoords .y-axis").count() >= 2
    assert "WebGL is not supported" not in page.content()
    # Sorting the trials table by the metric puts the best value first, then last.
    page.locator("table.trials thead").get_by_role("link", name="accuracy").click()
    page.locator('table.trials th[aria-sort="ascending"]', has_text="accuracy").wait_for()
    values = page.locator("table.trials tbody tr td:nth-child(3)").all_inner_texts()
    assert values == sorted(values, key=float)
    shoot(page, "04-finished")

    # A second, longer job: cancel it from its page.
    page.goto(base + "/jobs/new/hpo/")
    page.get_by_label("Name", exact=True).fill("long search")
    choose(page, "Dataset", "Digits")
    page.get_by_label("Model", exact=True).select_option("mlp")
    page.get_by_label("Trials", exact=True).fill("500")
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    page.locator("#job-status", has_text="running").wait_for(timeout=60_000)
    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel job N?" asks first
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_text("Cancelling job").wait_for()
    page.locator("#job-status", has_text="cancelled").wait_for(timeout=FINISH_S * 1000)
    assert Job.objects.get(name="long search").status == "cancelled"
    shoot(page, "05-cancelled")

    # The list shows both jobs' final status.
    nav.get_by_role("link", name="Jobs").click()
    rows = page.locator("#job-rows")
    assert "succeeded" in rows.inner_text() and "cancelled" in rows.inner_text()
    assert "bob's secret" not in page.content()

    # Another user's job is refused.
    response = page.goto(f"{base}/jobs/{bobs_job.id}/")
    assert response.status == 404
    assert "bob's secret" not in page.content()

    # Phone width: the job page still works without sideways scrolling of the page.
    phone = chromium.new_page(viewport={"width": 375, "height": 800})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(job_url)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, width
    shoot(phone, "06-phone")

    # Sign out.
    page.goto(base + "/jobs/")
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.wait_for_url(re.compile(r"/accounts/login/$"))

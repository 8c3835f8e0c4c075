"""The trial explorer in Chromium: a 50,000-trial job page that is usable (sorted, filtered
and paged by the server, a trial opened beside the table and marked in the charts), and a
running job's page that follows the job without a reload, keeping the user's sort."""

from datetime import timedelta

import pytest
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from tests.browser.steps import shoot, sign_in
from tests.support.factories import THREE_TRIALS, auto_job_in_bulk, make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Set on the page once it is shown: still there at the end means no navigation reloaded it.
MARK = "() => { window.sameDocument = true; }"
SAME = "() => window.sameDocument === true"
MARKED = (
    "Array.from(document.querySelectorAll('#job-charts .js-plotly-plot'))"
    ".some((div) => div.data.some((t) => t.meta === 'selected'))"
)


def open_job(chromium, live_server, user, job):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    sign_in(page, live_server.url, user.username, "ana-password-1")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    page.evaluate(MARK)
    return page


def test_a_50000_trial_job_page_is_usable(chromium, live_server, django_user_model):
    from automl.jobs.models import Trial

    ana = django_user_model.objects.create_user("ana", password="ana-password-1")
    job = auto_job_in_bulk(ana, None, 50_000)
    page = open_job(chromium, live_server, ana, job)

    # Every family's parameters, under the family's name; the first of 500 pages.
    assert "of 50000" in page.locator("#trials-count").inner_text()
    assert page.locator("#trials-table tbody tr").count() == 100
    for family in ("svm", "knn", "mlp", "xgboost"):
        page.locator("tr.groups th", has_text=family).first.wait_for()
    # The history draws every trial, in bins it names; the other charts say what they draw.
    page.locator(".js-plotly-plot", has_text="in bins of 50").wait_for()
    assert "150 best and the 100 latest" in page.locator("#chart-note").inner_text()
    shoot(page, "explorer-50000-trials")

    # Sorting by the metric goes over all 50,000 trials, not this page.
    table = page.locator("#trials-table")
    table.locator("thead").get_by_role("link", name="accuracy").click()
    table.locator('th[aria-sort="ascending"]', has_text="accuracy").wait_for()
    table.locator("thead").get_by_role("link", name="accuracy").click()
    table.locator('th[aria-sort="descending"]', has_text="accuracy").wait_for()
    # Trials without a value (failed) come last, as the explorer sorts them (Postgres puts
    # NULLs first in a descending order); several trials may share the best value, so the
    # first row must hold that value, whichever of them it is.
    scored = Trial.objects.filter(job=job, value__isnull=False)
    best = scored.order_by("-value").values_list("value", flat=True)[0]
    first = int(table.locator("tbody tr").first.get_attribute("data-number"))
    assert Trial.objects.get(job=job, number=first).value == best
    assert "ordering=-value" in page.url

    # One family, a range of one of its parameters, the next page: the server's rows.
    page.get_by_label("Model family").select_option("svm")
    page.locator("#filter-param").select_option("svm.C")
    page.get_by_label("lowest value").fill("10")
    page.get_by_role("button", name="Filter").click()
    page.locator(".chips .chip", has_text="10 ≤ svm.C").wait_for()
    assert page.locator("tr.groups th", has_text="knn").count() == 0
    matching = (
        Trial.objects.filter(job=job, params__model="svm")
        .alias(c=KeyTransform("svm.C", "params"))
        .filter(c__gte=10)
    )
    assert f"of {matching.count()} matching" in page.locator("#trials-count").inner_text()
    page.get_by_role("link", name="next →").click()
    page.locator("nav.pages", has_text="page 2 of").wait_for()

    # A trial opens beside the table, and is marked in the charts.
    row = page.locator("#trials-table tbody tr").first
    number = row.get_attribute("data-number")
    row.locator("a.trial-link").click()
    page.locator("#trial-drawer h2", has_text=f"Trial {number}").wait_for()
    page.wait_for_function(f"() => {MARKED}")
    assert page.locator("#trial-drawer").get_by_text("Parameters").is_visible()
    shoot(page, "explorer-50000-trials-drawer")
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => !({MARKED})")
    assert page.evaluate(SAME), "the page was reloaded"


def test_a_running_job_page_updates_without_a_reload(chromium, live_server, django_user_model):
    from automl.jobs.models import Job, Trial

    ana = django_user_model.objects.create_user("ana", password="ana-password-1")
    started = timezone.now() - timedelta(seconds=30)
    job = make_job(
        ana, None, status="running", progress=0.2, started_at=started, trials=THREE_TRIALS
    )
    page = open_job(chromium, live_server, ana, job)
    page.locator(".js-plotly-plot", has_text="Optimization history").wait_for()
    # The user sorts best first and zooms the history; both must survive the updates.
    # Each click reloads the table: the second must wait for the first's answer.
    page.locator("#trials-table thead").get_by_role("link", name="accuracy").click()
    page.locator('th[aria-sort="ascending"]', has_text="accuracy").wait_for()
    page.locator("#trials-table thead").get_by_role("link", name="accuracy").click()
    page.locator('th[aria-sort="descending"]', has_text="accuracy").wait_for()
    assert "left (from progress)" in page.locator("#job-time").inner_text()

    for number, state, value in [
        (3, "complete", 0.95),
        (4, "complete", 0.85),
        (5, "failed", None),
    ]:
        Trial.objects.create(
            job=job, number=number, state=state, values=value and [value], params={"C": 1.0}
        )
    Job.objects.filter(id=job.id).update(progress=0.6)
    page.locator("#job-trials", has_text="6 (").wait_for()
    page.locator("#trials-table tbody tr").nth(5).wait_for()
    assert page.locator('th[aria-sort="descending"]', has_text="accuracy").count() == 1
    assert page.locator("#trials-table tbody tr").first.get_attribute("data-number") == "3"
    shoot(page, "explorer-live-running")

    Job.objects.filter(id=job.id).update(
        status="succeeded", progress=1.0, finished_at=timezone.now()
    )
    page.locator("#job-status", has_text="succeeded").wait_for()
    page.get_by_role("link", name="Run again").wait_for()  # the actions follow the status
    assert page.evaluate(SAME), "the page was reloaded"
    shoot(page, "explorer-live-finished")

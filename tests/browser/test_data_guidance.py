"""What a data set's page and the staff pages tell a newcomer, in Chromium: the first rows
as stored, a date column drawn over time, drift on too few rows read as not judged, and
the queues' housekeeping counted apart from users' work."""

import json
import re

import pytest

from tests.browser.steps import shoot, sign_in
from tests.support.factories import FEATURES, forest_dir, iris_xy, register
from tests.support.traffic import traffic
from workers.data.reference import reference_stats

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_data_set_page_shows_its_first_rows_and_dates_over_time(
    chromium, live_server, django_user_model, tmp_path
):
    django_user_model.objects.create_user("ana", password="ana-password-1")
    csv = tmp_path / "visits.csv"
    csv.write_text(
        "day,pages,referrer,bought\n"
        + "".join(
            f"2024-{1 + i % 6:02d}-{1 + i % 28:02d},{i % 9},"
            f"{'<i>mail</i>' if i % 5 == 0 else 'search'},{'yes' if i % 3 else 'no'}\n"
            for i in range(120)
        )
    )
    page = chromium.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live_server.url, "ana", "ana-password-1")
    page.goto(live_server.url + "/datasets/")
    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_label("Target", exact=True).fill("bought")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))

    first = page.locator("#first-rows")
    assert first.locator("tbody tr").count() == 10
    assert first.locator("tbody tr").first.locator("td").all_inner_texts() == [
        "2024-01-01",
        "0",
        "<i>mail</i>",  # shown as text, never as markup
        "no",
    ]
    assert first.locator("i").count() == 0
    chart = page.locator(".js-plotly-plot", has_text="day: rows over time")
    chart.wait_for()
    assert chart.locator(".xtick").count() > 1 and chart.locator("rect, path.point").count()
    shoot(page, "data-set-first-rows-and-dates")


def test_staff_see_drift_not_judged_and_housekeeping_apart(
    chromium, live_server, django_user_model, tmp_path, model_store
):
    from rest_framework.test import APIClient

    from automl.celery import app
    from automl.serving.traffic import create_deployment

    alice = django_user_model.objects.create_user("alice", password="alice-password-1")
    staff = django_user_model.objects.create_user("sam", password="sam-password-1", is_staff=True)
    directory = forest_dir(tmp_path / "v1")
    X, _ = iris_xy()
    (directory / "reference.json").write_text(json.dumps(reference_stats(X, FEATURES)))
    version = register(alice, directory, name="iris")
    deployment = create_deployment(
        alice, name="iris-live", model_name="iris", routes=[{"version": version.id, "weight": 1}]
    )
    alice_api, staff_api = APIClient(), APIClient()
    alice_api.force_authenticate(alice)
    staff_api.force_authenticate(staff)
    traffic(alice_api, deployment, seed=1, n=27, shift={"petal_length": 4.0})
    report = staff_api.post("/api/v1/monitoring/drift/", {"deployment": deployment.id})
    assert report.status_code == 201, report.content

    page = chromium.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live_server.url, "sam", "sam-password-1")
    page.goto(f"{live_server.url}/monitoring/deployments/{deployment.id}/")
    row = page.locator("#features tr", has_text="petal_length")
    assert row.locator("td").nth(2).inner_text() == "not judged (27 of 30 rows)"
    assert "major" not in row.inner_text()  # a PSI level would read as a verdict
    shoot(page, "drift-not-judged")

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")
    try:
        app.send_task("automl.reconcile_jobs", queue="gpu")
        app.send_task("automl.run_job", (0,), queue="gpu")
        page.goto(f"{live_server.url}/monitoring/")
        cells = page.locator("#queues tr", has_text="gpu").locator("td").all_inner_texts()
        assert cells == ["gpu", "2", "1"]
        page.locator("#queues-chart .js-plotly-plot", has_text="housekeeping").wait_for()
        shoot(page, "monitoring-housekeeping")
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("gpu")

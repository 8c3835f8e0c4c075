"""A data set whose column name is markup: uploaded in a real browser, it shows as plain
text on the data set page, on a job's page and in their charts; no dialog opens and the
Content-Security-Policy reports nothing blocked (our pages need no inline script)."""

import re

import pytest
from django.utils import timezone

from automl.jobs.models import Job, Trial
from tests.browser.steps import shoot, sign_in
from tests.support.factories import HPO_CONFIG

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EVIL = "<img src=x onerror=alert(1)>"


def evil_csv() -> str:
    rows = [f"{i % 7 * 0.5:.1f},{i % 3},{'yes' if i % 2 else 'no'}" for i in range(60)]
    return f'"{EVIL}",b,label\n' + "\n".join(rows) + "\n"


def watch(page) -> dict[str, list[str]]:
    """What the page would give away: dialogs opened, and CSP or script errors."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": [], "missing": []}

    def on_dialog(dialog):
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("response", lambda r: seen["missing"].append(r.url) if r.status == 404 else None)
    return seen


def test_markup_in_a_column_name_stays_text(
    chromium, live_server, django_user_model, settings, tmp_path
):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    user = django_user_model.objects.create_user("ana", password="ana-password-1")
    csv = tmp_path / "evil.csv"
    csv.write_text(evil_csv())
    base = live_server.url
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    seen = watch(page)

    sign_in(page, base, "ana", "ana-password-1")
    page.goto(base + "/datasets/")
    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_label("Target", exact=True).fill("label")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    dataset_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    # The profile table and the column's histogram title show the name as text.
    assert page.get_by_text(EVIL, exact=True).first.is_visible()
    page.locator(".js-plotly-plot").first.wait_for()
    assert page.locator(".js-plotly-plot", has_text=EVIL).count() >= 1
    assert page.locator("img[src='x']").count() == 0
    shoot(page, "xss-01-dataset")

    # A job on it whose trials searched a parameter of that name: table and charts.
    job = Job.objects.create(
        owner=user,
        kind="hpo",
        name=EVIL,
        dataset_id=dataset_id,
        status="succeeded",
        config=HPO_CONFIG,
        result={"importances": {EVIL: 1.0}},
    )
    now = timezone.now()
    for n in range(4):
        Trial.objects.create(
            job=job,
            number=n,
            state="complete",
            params={EVIL: n * 0.1},
            values=[0.5 + n / 10],
            intermediate_values={"0": 0.5},
            started_at=now,
            finished_at=now,
        )
    page.goto(f"{base}/jobs/{job.id}/")
    page.locator(".js-plotly-plot").nth(2).wait_for()
    assert page.get_by_role("heading", level=1).inner_text().find(EVIL) >= 0
    assert page.locator(".js-plotly-plot", has_text=EVIL).count() >= 1
    assert page.locator("table.trials thead", has_text=EVIL).count() == 1
    assert page.locator("img[src='x']").count() == 0
    shoot(page, "xss-02-job")
    page.goto(base + "/jobs/")
    assert EVIL in page.locator("main").inner_text()

    page.wait_for_timeout(500)  # a late onerror would have fired by now
    assert seen["dialogs"] == []
    assert [e for e in seen["errors"] if "Content Security Policy" in e] == []
    # The browser's own favicon request is the only resource allowed to be missing.
    assert [u for u in seen["missing"] if not u.endswith("/favicon.ico")] == []
    assert [e for e in seen["errors"] if not e.startswith("Failed to load resource")] == []

"""A screenshot of each page the README's web UI section lists, taken in Chromium after a
real HPO job ran on iris and its model was deployed.

The README's images are these screenshots: refresh them with
`AUTOML_README_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_readme_screenshots.py`,
which writes docs/screenshots/ (otherwise they go to the git-ignored test folder).
"""

import os
from pathlib import Path

import pytest

from tests.browser.steps import SCREENSHOTS, sign_in
from tests.support.factories import queued_hpo_job, run_here

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MAX_BYTES = 150_000  # each committed image stays small
VIEWPORT = {"width": 1100, "height": 720}  # the top of each page: what a newcomer sees
# Each page the README's web UI section lists: (path, who looks). {iris}, {job}, {version}
# and {deployment} are the ids of what the test made.
PAGES = {
    "home": ("/", "ana"),
    "datasets": ("/datasets/", "ana"),
    "dataset": ("/datasets/{iris}/", "ana"),
    "new-job": ("/jobs/new/hpo/?dataset={iris}", "ana"),
    "jobs": ("/jobs/", "ana"),
    "job": ("/jobs/{job}/", "ana"),
    "models": ("/models/", "ana"),
    "model": ("/models/{version}/", "ana"),
    "deployments": ("/deployments/", "ana"),
    "deployment": ("/deployments/{deployment}/", "ana"),
    "account": ("/accounts/", "ana"),
    "monitoring": ("/monitoring/", "sam"),
}


def test_each_page_of_the_web_ui_section(chromium, live_server, django_user_model, model_store):
    from automl.datasets.models import Dataset
    from automl.registry.models import ModelVersion
    from automl.serving.traffic import create_deployment

    folder = README_SCREENSHOTS if os.environ.get("AUTOML_README_SCREENSHOTS") else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    ana = django_user_model.objects.create_user("ana", password="ana-password-1")
    django_user_model.objects.create_user("sam", password="sam-password-1", is_staff=True)
    iris = Dataset.objects.get(builtin_name="iris")
    job = run_here(
        queued_hpo_job(ana, iris, name="iris-forest", model="random_forest", n_trials=8)
    )
    assert job.status == "succeeded", job.error_message
    version = ModelVersion.objects.get(job=job)
    deployment = create_deployment(
        ana,
        name="iris-live",
        model_name=version.name,
        routes=[{"version": version.id, "weight": 1}],
    )

    browsers = {}
    for user in ("ana", "sam"):
        context = chromium.new_context(viewport=VIEWPORT)
        browsers[user] = context.new_page()
        browsers[user].set_default_timeout(30_000)
        sign_in(browsers[user], live_server.url, user, f"{user}-password-1")
    ids = {"iris": iris.id, "job": job.id, "version": version.id, "deployment": deployment.id}
    for name, (path, user) in PAGES.items():
        page = browsers[user]
        response = page.goto(live_server.url + path.format(**ids))
        assert response.status == 200, (name, response.status)
        assert page.locator("h1").first.is_visible(), name
        page.wait_for_load_state("networkidle")
        # Charts are drawn by the time the page is still: each figure has its SVG.
        for chart in page.locator("[data-figure]").all()[:4]:
            chart.locator(".main-svg").first.wait_for()
        target = folder / f"{name}.png"
        page.screenshot(path=str(target))
        assert target.stat().st_size <= MAX_BYTES, (name, target.stat().st_size)

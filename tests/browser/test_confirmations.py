"""Destructive actions ask first (static/js/confirm.js): answering no leaves things as they
were, answering yes does it."""

import pytest

from tests.browser.steps import shoot, sign_in
from tests.support.factories import make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_cancelling_a_job_asks_first(chromium, live_server, django_user_model):
    from automl.datasets.models import Dataset
    from automl.jobs.models import Job

    ana = django_user_model.objects.create_user("ana", password="ana-password-1")
    job = make_job(ana, Dataset.objects.get(builtin_name="iris"), status="running")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    sign_in(page, live_server.url, "ana", "ana-password-1")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    asked = []

    def answer(dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Cancel job").click()
    assert asked and asked[0].startswith(f"Cancel job {job.id}?")
    assert not Job.objects.get(id=job.id).cancel_requested
    shoot(page, "confirm-cancel")

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_text(f"Cancelling job {job.id}").wait_for()
    assert Job.objects.get(id=job.id).cancel_requested

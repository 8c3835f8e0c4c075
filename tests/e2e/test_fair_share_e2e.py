"""Fair share with a real worker on Redis and Postgres: another user's job starts next, not
after the first user's backlog (the reliability target "a user's job while another user
has 100 queued")."""

import pytest
from django.contrib.auth import get_user_model

from automl.jobs import lifecycle
from automl.jobs.models import Job
from automl.jobs.services import submit_job
from tests.support.api import Api
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHEAP = {"model": "logistic_regression", "n_trials": 1}


def test_a_second_users_job_starts_while_the_first_has_100_queued(
    workers, api, live_server, settings
):
    settings.JOB_MAX_ACTIVE_PER_USER = 200
    first = api.submit("hpo", "iris", CHEAP)
    # The other 100 as the service stores them (the API's validated config): submitting
    # them over HTTP would only make the test slower.
    owner = Job.objects.get(id=first["id"]).owner
    backlog = [
        submit_job(
            owner,
            kind="hpo",
            name=f"backlog {i}",
            dataset=Job.objects.get(id=first["id"]).dataset,
            config=first["config"],
            resources=first["resources"],
        )
        for i in range(100)
    ]
    get_user_model().objects.create_user("second", password="second-password-1")
    second = Api.sign_in(live_server.url, "second", "second-password-1")
    workers.start()  # one process: the broker holds at most JOB_DISPATCH_AHEAD more
    theirs = second.submit("hpo", "iris", CHEAP)
    assert theirs["status"] == "queued"

    second.wait(theirs["id"], lambda job: job["status"] != "queued", timeout_s=300)

    started_before = Job.objects.filter(owner=owner).exclude(status="queued").count()
    # The one running when the second user submitted, and the few the scheduler had sent
    # ahead of it: nothing like the whole backlog.
    assert started_before <= 1 + 1 + settings.JOB_DISPATCH_AHEAD
    waiting = Job.objects.filter(owner=owner, status="queued", dispatched_at__isnull=True)
    assert waiting.count() >= 95
    reason = api.get(f"/api/v1/jobs/{waiting.order_by('created_at').last().id}/")
    assert reason["waiting_reason"].startswith("waiting behind your own jobs")

    for job in backlog:
        lifecycle.request_cancel(job)
    wait_for(
        lambda: not Job.objects.filter(status__in=Job.ACTIVE).exists(),
        timeout_s=300,
        what="the jobs already started to finish",
    )
    assert Job.objects.get(id=theirs["id"]).status == "succeeded"

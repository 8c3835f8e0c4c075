"""Per-user limit on queued and running jobs: a 429 naming the limit and its value; staff
raise it per user (Quota in the admin)."""

import pytest

from automl.accounts.models import Quota
from automl.jobs.models import Job
from tests.support.api import submit

pytestmark = pytest.mark.django_db

HPO = {"model": "random_forest", "n_trials": 3}


def test_submissions_past_the_limit_are_429s_naming_it(alice_api, bob_api, alice, iris, settings):
    settings.JOB_MAX_ACTIVE_PER_USER = 2
    assert [submit(alice_api, "hpo", iris, HPO).status_code for _ in range(2)] == [201, 201]
    refused = submit(alice_api, "hpo", iris, HPO)
    assert refused.status_code == 429, refused.json()
    body = refused.json()
    assert body["error"] == "quota" and "JOB_MAX_ACTIVE_PER_USER" in body["detail"]
    assert body["fields"] == {"quota": ["at most 2 queued or running jobs"]}
    assert submit(bob_api, "hpo", iris, HPO).status_code == 201  # per user
    # A finished job frees its place; staff can raise one user's limit.
    Job.objects.filter(owner=alice).update(status="succeeded")
    assert submit(alice_api, "hpo", iris, HPO).status_code == 201
    Quota.objects.create(user=alice, max_active_jobs=3)
    assert [submit(alice_api, "hpo", iris, HPO).status_code for _ in range(3)] == [201, 201, 429]


def test_a_parallelism_past_the_users_limits_is_a_400_naming_limit_and_value(
    alice_api, alice, iris, settings
):
    settings.JOB_MAX_PARALLELISM_PER_USER = 4
    settings.JOB_MAX_TRIALS_IN_FLIGHT_PER_USER = 6
    refused = submit(alice_api, "hpo", iris, {**HPO, "parallelism": 5})
    assert refused.status_code == 400
    assert refused.json()["fields"]["config.parallelism"] == [
        "at most 4: your parallelism limit (JOB_MAX_PARALLELISM_PER_USER, or your quota) is 4"
    ]
    assert submit(alice_api, "hpo", iris, {**HPO, "parallelism": 4}).status_code == 201
    # A job wider than the user's trials in flight could never start: refused too.
    Quota.objects.create(user=alice, max_parallelism=8)
    refused = submit(alice_api, "hpo", iris, {**HPO, "parallelism": 7})
    assert refused.json()["fields"]["config.parallelism"] == [
        "at most 6: your limit of trials in flight (JOB_MAX_TRIALS_IN_FLIGHT_PER_USER, "
        "or your quota) is 6"
    ]


def test_priority_is_stored_and_bounded_and_a_queued_job_says_why_it_waits(
    alice_api, alice, iris, settings
):
    settings.JOB_DISPATCH_AHEAD = 0  # no worker is live: nothing is sent, everything waits
    response = submit(alice_api, "hpo", iris, HPO, priority=3)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["priority"] == 3
    assert body["waiting_reason"] == (
        "waiting for a free worker: your own earlier jobs take them all"
    )
    refused = submit(alice_api, "hpo", iris, HPO, priority=11)
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["priority"]


def test_the_form_sets_priority_and_the_job_page_says_why_it_waits(
    alice_browser, alice, iris, settings
):
    from tests.pages_tests.test_job_pages import HPO_FORM

    settings.JOB_MAX_RUNNING_PER_USER = 0
    response = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "priority": "-2"}
    )
    job = Job.objects.get(owner=alice)
    assert response.status_code == 302 and job.priority == -2
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert "waiting: you have 0 jobs running, your limit is 0" in page
    assert "<dt>Priority</dt><dd>-2 (among your own queued jobs)</dd>" in page
    refused = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "priority": "99"}
    )
    assert refused.status_code == 400 and "less than or equal to 10" in refused.content.decode()

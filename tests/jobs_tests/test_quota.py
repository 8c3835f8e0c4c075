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

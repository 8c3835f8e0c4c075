"""A trial stuck in one long call that checks nothing is ended on a real worker (Postgres,
Redis, a Celery process): past its trial_timeout_s the watchdog records it failed as
time_limit and ends the pool child; the worker's fresh child takes the runner over and the
job goes on with the next trial. A cancel ends such a trial, and its job, the same way.
(The mechanism alone, in one process: tests/workers_tests/test_hard_stop.py.)"""

import pytest

from tests.support.stuck_fits import STUCK_NEIGHBORS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STUCK_WORKER = ("--include", "tests.support.stuck_fits")
GRACE = {"TRIAL_STOP_GRACE_S": "1"}


def knn(**extra) -> dict:
    """Two trials, the stuck one first (warm-start trials without values run first)."""
    first = [{"params": {"n_neighbors": n}, "values": None} for n in (STUCK_NEIGHBORS, 5)]
    return {
        "model": "knn",
        "n_trials": 2,
        "search_space": {"n_neighbors": {"type": "int", "low": 1, "high": 10}},
        "warm_start": {"trials": first},
        **extra,
    }


def test_a_stuck_trial_is_ended_at_its_limit_and_the_job_goes_on(workers, api):
    workers.start("w1", *STUCK_WORKER, **GRACE)
    job = api.submit("hpo", "iris", knn(trial_timeout_s=2))
    done = api.wait_finished(job["id"], timeout_s=300)
    assert done["status"] == "succeeded", done
    stuck, next_one = api.all_trials(job["id"])
    assert stuck["params"]["n_neighbors"] == STUCK_NEIGHBORS
    assert (stuck["state"], stuck["failure_class"]) == ("failed", "time_limit")
    assert "trial_timeout_s=2 exceeded (the trial did not stop within 1 s" in stuck["error"]
    assert next_one["state"] == "complete"
    assert "a trial outlived its hard limit" in workers.log("w1")


def test_a_cancel_ends_a_stuck_trial_and_its_job(workers, api):
    workers.start("w1", *STUCK_WORKER, **GRACE)
    job = api.submit("hpo", "iris", knn())  # no time limit: only the cancel can end it
    api.wait(job["id"], lambda _: [t["state"] for t in api.all_trials(job["id"])] == ["running"])
    api.post(f"/api/v1/jobs/{job['id']}/cancel/", expect=202)
    done = api.wait_finished(job["id"], timeout_s=120)
    assert done["status"] == "cancelled", done
    [stuck] = api.all_trials(job["id"])
    assert (stuck["state"], stuck["failure_class"]) == ("failed", "cancelled")
    assert "cancelled (the trial did not stop within 1 s" in stuck["error"]

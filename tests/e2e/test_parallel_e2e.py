"""Parallel trials across two real workers on one Postgres-backed study, and a worker killed
mid-trial: its trial fails as lost and is replaced, so the job still ends with exactly
n_trials finished, numbered without gaps."""

import time

import pytest

from automl.jobs.models import Trial

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FINISHED = {"complete", "pruned", "failed"}


def test_two_workers_share_one_study(workers, api):
    workers.start("w1")
    workers.start("w2")
    workers.wait_ready("w1", "w2")
    config = {
        "model": "random_forest",
        "n_trials": 16,
        "parallelism": 2,
        "sampler": {"name": "random", "seed": 0},
    }

    job = api.wait_finished(api.submit("hpo", "iris", config)["id"])

    assert job["status"] == "succeeded", job["error_message"]
    trials = api.all_trials(job["id"])
    assert sorted(t["number"] for t in trials) == list(range(16))
    assert {t["state"] for t in trials} == {"complete"}
    assert len({t["worker"] for t in trials}) == 2, "both workers ran trials"
    assert job["result"]["n_complete"] == 16
    assert job["result"]["refit"]["test_metrics"]["accuracy"] > 0.8


def test_a_worker_killed_mid_trial_loses_no_finished_trial(workers, api):
    workers.start("w1", TRIAL_STALE_AFTER_S="6")
    workers.start("w2", TRIAL_STALE_AFTER_S="6")
    config = {
        "model": "mlp",
        "n_trials": 8,
        "parallelism": 2,
        "sampler": {"name": "random", "seed": 0},
        "search_space": {"epochs": {"type": "fixed", "value": 60}},
    }
    job = api.submit("hpo", "iris", config)

    # Wait until both workers are inside a trial, then kill one of them outright.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = Trial.objects.filter(job_id=job["id"], state="running")
        if len({t.worker for t in running}) == 2:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the two workers never ran trials at the same time")
    finished_before = set(
        Trial.objects.filter(job_id=job["id"], state="complete").values_list("number", "values")
    )
    workers.kill("w1")

    job = api.wait_finished(job["id"], timeout_s=240)

    assert job["status"] == "succeeded", job["error_message"]
    trials = api.all_trials(job["id"])
    assert sorted(t["number"] for t in trials) == list(range(9)), "no number lost or doubled"
    assert {t["state"] for t in trials} <= FINISHED
    lost = [t for t in trials if t["state"] == "failed"]
    assert len(lost) == 1 and "lost" in lost[0]["error"]
    assert job["result"]["n_complete"] == 8, "the lost trial was replaced"
    kept = {(t["number"], tuple(t["values"])) for t in trials if t["state"] == "complete"}
    assert {(n, tuple(v)) for n, v in finished_before} <= kept, "a finished trial was lost"

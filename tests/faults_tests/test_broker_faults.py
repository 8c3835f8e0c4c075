"""The broker fails under a running platform: Redis restarts mid-job (without persistence,
so every message is gone), or its database is flushed. Postgres is the truth: running
jobs finish, workers reconnect, and the reconciler re-sends every job still queued.

Each test runs its own redis-server; the shared one is never restarted or flushed."""

import pytest
import redis

from automl.jobs.models import Job, Trial
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# The most a job's remaining work may take, worker start and reconnection included, on a
# loaded 2-core machine: each wait ends as soon as the state is reached.
WORK_S = 240


def submit_hpo(api, model: str, n_trials: int, **extra) -> int:
    config = {
        "model": model,
        "n_trials": n_trials,
        "sampler": {"name": "random", "seed": 0},
        **extra,
    }
    return api.submit("hpo", "iris", config)["id"]


def test_a_redis_restart_mid_job_loses_no_job(workers, api, own_redis):
    workers.start("w1", CELERY_BROKER_URL=own_redis.url)
    # Trials of a second or more, so one is seen running after another finished.
    job_id = submit_hpo(api, "mlp", 4, search_space={"epochs": {"type": "fixed", "value": 60}})
    own_redis.send_job(job_id)
    trials = Trial.objects.filter(job_id=job_id)
    wait_for(
        lambda: (
            trials.filter(state="complete").exists() and trials.filter(state="running").exists()
        ),
        WORK_S,
        "a trial done and one running",
    )

    own_redis.stop()
    # Restarted once the worker has seen it gone (a state, not a guessed number of seconds).
    wait_for(
        lambda: "Connection to broker lost" in workers.log("w1"), 60, "the worker to see it gone"
    )
    own_redis.start()
    # A job sent through the new server: the worker must have reconnected to run it.
    second = submit_hpo(api, "logistic_regression", 2)
    own_redis.send_job(second)

    job = api.wait_finished(job_id, timeout_s=WORK_S)
    assert job["status"] == "succeeded", job["error_message"]
    assert sorted(trials.values_list("number", flat=True)) == [0, 1, 2, 3]
    # Claimed once the first is done: run_job(second) went through the restarted server.
    wait_for(lambda: Job.objects.get(id=second).attempts == 1, WORK_S, "the second job claimed")


def test_a_flushed_broker_loses_no_queued_job(workers, api, own_redis):
    queued = [submit_hpo(api, "logistic_regression", 2) for _ in range(3)]
    cancelled = submit_hpo(api, "logistic_regression", 2)
    api.post(f"/api/v1/jobs/{cancelled}/cancel/", expect=202)
    for job_id in [*queued, cancelled]:
        own_redis.send_job(job_id)
    own_redis.flush()
    assert redis.Redis.from_url(own_redis.url).llen("cpu") == 0, "the messages are gone"

    # The worker's scheduler runs the reconciler every second.
    workers.start(
        "w1",
        "-B",
        CELERY_BROKER_URL=own_redis.url,
        RECONCILE_EVERY_S="1",
        RECONCILE_QUEUED_AFTER_S="2",
    )
    for job_id in queued:
        job = api.wait_finished(job_id, timeout_s=WORK_S)
        assert job["status"] == "succeeded", job["error_message"]
        assert Trial.objects.filter(job_id=job_id, state="complete").count() == 2
    assert Job.objects.filter(id__in=queued, attempts=1).count() == 3, "each ran once"
    assert Job.objects.get(id=cancelled).status == "cancelled"
    assert not Trial.objects.filter(job_id=cancelled).exists()

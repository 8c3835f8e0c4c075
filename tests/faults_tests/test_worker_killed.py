"""A job's only worker is SIGKILLed mid-trial and another one starts later: the reconciler
gives the job a new runner, the dead worker's trial fails as lost, the rest of the budget
runs on the new worker (the lost trial retried with its parameters: n_trials complete),
and every trial finished before the kill is kept as it was."""

import pytest

from automl.jobs.models import Job, Trial
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

N_TRIALS = 6


def test_a_job_whose_worker_died_finishes_after_a_restart(workers, api):
    workers.start("w1")
    config = {
        "model": "mlp",
        "n_trials": N_TRIALS,
        "sampler": {"name": "random", "seed": 0},
        "search_space": {"epochs": {"type": "fixed", "value": 40}},
    }
    job = api.submit("hpo", "iris", config)
    trials = Trial.objects.filter(job_id=job["id"])

    # Kill the worker while it is inside a trial, with at least two trials already done.
    wait_for(
        lambda: (
            2 <= trials.filter(state="complete").count() <= 3
            and trials.filter(state="running").exists()
        ),
        90,
        "two trials done, one running",
    )
    workers.kill("w1")
    done_before = {(t.number, tuple(t.values)) for t in trials.filter(state="complete")}
    # Between two trials for a few ms, none runs: then the last one done stands in.
    running = trials.filter(state="running").first()
    in_flight = running.number if running else max(n for n, _ in done_before)
    assert Job.objects.get(id=job["id"]).status == "running"

    # A new worker running the scheduler: its reconciler notices the silent job.
    workers.start(
        "w2", "-B", JOB_STALE_AFTER_S="3", TRIAL_STALE_AFTER_S="3", RECONCILE_EVERY_S="1"
    )
    workers.wait_ready("w2")  # its start on a loaded machine is not the job's time
    job = api.wait_finished(job["id"], timeout_s=240)

    assert job["status"] == "succeeded", job["error_message"]
    after = {t.number: t for t in trials}
    failed = [t for t in after.values() if t.state == "failed"]
    assert len(failed) <= 1, "only the trial in flight may be lost"
    assert sorted(after) == list(range(N_TRIALS + len(failed))), "no number lost or doubled"
    kept = {(t.number, tuple(t.values)) for t in after.values() if t.state == "complete"}
    assert done_before <= kept, "a trial finished before the kill was lost"
    if running:
        lost = after[in_flight]
        assert lost.state == "failed" and "lost" in lost.error
        assert lost.failure_class == "infrastructure"
        # The infrastructure policy's default: the same parameters again, as its retry.
        reruns = [t for t in after.values() if t.retry_of == in_flight]
        assert [(t.params, t.state) for t in reruns] == [(lost.params, "complete")]
    replacements = [t for n, t in after.items() if n > in_flight]
    assert replacements and all(t.state == "complete" for t in replacements)
    assert {t.worker for t in replacements} != {after[0].worker}, "the new worker ran them"
    assert job["result"]["n_complete"] == N_TRIALS, "the lost trial was replaced"

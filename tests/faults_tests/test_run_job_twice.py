"""run_job delivered twice (a broker redelivery, or the reconciler re-sending a job whose
first message was only slow) runs the job once: the claim is a conditional UPDATE."""

import pytest

from automl.celery import app as celery_app
from automl.jobs.models import Job, Trial

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_job_delivered_to_two_workers_at_once_runs_once(workers, api):
    workers.start("w1")
    workers.start("w2")
    workers.wait_ready("w1", "w2")
    config = {"model": "random_forest", "n_trials": 4, "sampler": {"name": "random", "seed": 0}}
    job_id = api.submit("hpo", "iris", config)["id"]
    celery_app.send_task("automl.run_job", args=[job_id], queue="cpu")  # the second delivery

    job = api.wait_finished(job_id, timeout_s=240)

    assert job["status"] == "succeeded", job["error_message"]
    assert Job.objects.get(id=job_id).attempts == 1
    trials = Trial.objects.filter(job_id=job_id)
    assert sorted(trials.values_list("number", flat=True)) == [0, 1, 2, 3]
    assert job["result"]["n_complete"] == 4
    logs = workers.log("w1") + workers.log("w2")
    assert logs.count(f"job {job_id}: not claimable") == 1, "the other delivery did nothing"

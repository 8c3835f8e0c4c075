"""Trainer options and GPU counts from a job reach the torch families on a real worker: a
data-parallel trial (two gloo processes spawned inside the Celery child), a bf16 one, and
one split into model-parallel stages on an uploaded CSV; the worker's declared GPU is the
only one its child sees, and a job asking for more GPUs than a child holds is failed with
the reason."""

import pytest

from tests.support.data import churn_csv

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SPACE = {
    "epochs": {"type": "fixed", "value": 15},
    "hidden_layers": {"type": "fixed", "value": 1},
    "batch_size": {"type": "fixed", "value": 32},
}


def mlp(trainer: dict, n_trials: int = 2) -> dict:
    return {
        "model": "mlp",
        "n_trials": n_trials,
        "sampler": {"name": "random", "seed": 0},
        "search_space": SPACE,
        "trainer": trainer,
    }


def test_trainer_options_and_gpu_counts_reach_the_mlp_trials_of_a_worker(workers, api):
    from automl.jobs.models import Job

    # One pool child holding the one declared GPU; it takes CPU and GPU jobs.
    workers.start("w1", "-Q", "cpu,gpu", AUTOML_WORKER_GPUS="7")
    jobs = [
        api.submit("hpo", "iris", mlp(trainer))
        for trainer in (
            {"processes": 2, "device": "cpu"},
            {"amp": True, "accumulation_steps": 2, "clip_norm": 1.0},
        )
    ]
    churn = api.upload("churn.csv", churn_csv(), target="churned")
    staged = api.submit(
        "hpo", churn["id"], mlp({"stages": 2}, n_trials=1), resources={"device": "cpu"}
    )
    too_big = api.submit("hpo", "iris", mlp({}), resources={"device": "auto", "gpus": 2})
    assert too_big["queue"] == "gpu"

    for submitted in jobs:
        assert submitted["config"]["trainer"]["device"] in ("cpu", "auto")
        job = api.wait_finished(submitted["id"], timeout_s=240)
        assert job["status"] == "succeeded", job["error_message"]
        errors = [t["error"] for t in api.all_trials(job["id"]) if t["error"]]
        assert job["result"]["n_complete"] == 2, errors
        assert job["result"]["refit"]["test_metrics"]["accuracy"] > 0.6
        assert Job.objects.get(id=job["id"]).worker_info["cuda_visible_devices"] == "7"
    data_parallel = api.all_trials(jobs[0]["id"])
    # One value per trial: the data-parallel fit reports once, from rank 0's weights.
    assert all(len(t["intermediate_values"]) == 1 for t in data_parallel)

    # Two stages on the CPU, through the same loop: it learns the churn rule like one piece.
    job = api.wait_finished(staged["id"], timeout_s=240)
    assert job["status"] == "succeeded", job["error_message"]
    assert job["config"]["trainer"]["stages"] == 2
    assert job["result"]["refit"]["test_metrics"]["accuracy"] > 0.7

    job = api.wait_finished(too_big["id"], timeout_s=120)
    assert job["status"] == "failed"
    assert job["error_message"].startswith("needs 2 GPUs, worker w1@")
    assert "gives each job 1 GPU" in job["error_message"]

"""Trainer options from a job's config reach the torch families on a real worker: a
data-parallel trial (two gloo processes spawned inside the Celery child) and a bf16 one;
the worker's declared GPU is the only one its child sees."""

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_hpo_job_trains_its_mlp_trials_data_parallel_and_in_bf16(workers, api):
    workers.start("w1", AUTOML_WORKER_GPUS="7")
    space = {
        "epochs": {"type": "fixed", "value": 15},
        "hidden_layers": {"type": "fixed", "value": 1},
        "batch_size": {"type": "fixed", "value": 32},
    }
    jobs = [
        api.submit(
            "hpo",
            "iris",
            {
                "model": "mlp",
                "n_trials": 2,
                "sampler": {"name": "random", "seed": 0},
                "search_space": space,
                "trainer": trainer,
            },
        )
        for trainer in (
            {"processes": 2, "device": "cpu"},
            {"amp": True, "accumulation_steps": 2, "clip_norm": 1.0},
        )
    ]
    for submitted in jobs:
        assert submitted["config"]["trainer"]["device"] in ("cpu", "auto")
        job = api.wait_finished(submitted["id"], timeout_s=240)
        assert job["status"] == "succeeded", job["error_message"]
        errors = [t["error"] for t in api.all_trials(job["id"]) if t["error"]]
        assert job["result"]["n_complete"] == 2, errors
        assert job["result"]["refit"]["test_metrics"]["accuracy"] > 0.6
        from automl.jobs.models import Job

        assert Job.objects.get(id=job["id"]).worker_info["cuda_visible_devices"] == "7"
    data_parallel = api.all_trials(jobs[0]["id"])
    # One value per trial: the data-parallel fit reports once, from rank 0's weights.
    assert all(len(t["intermediate_values"]) == 1 for t in data_parallel)

"""NAS jobs over REST: submission checks (DRF client), then every strategy on a real worker
process on Postgres and Redis, and a worker killed mid-search."""

from pathlib import Path

import numpy as np
import pytest

from automl.datasets.models import Dataset
from automl.jobs.models import Job, Trial
from tests.support.api import submit

CELL = {"name": "cell", "cells": 2, "nodes": 2, "channels": 4}
MACRO = {"name": "macro", "widths": [4, 8], "max_layers": 2}
TINY = {
    "darts": {"strategy": {"name": "darts", "epochs": 2, "batch_size": 128}, "space": CELL},
    "darts2": {
        "strategy": {"name": "darts", "epochs": 1, "order": 2, "batch_size": 128},
        "space": CELL,
    },
    "evolution": {
        "strategy": {"name": "evolution", "population": 2, "sample_size": 2, "cycles": 1},
        "space": MACRO,
    },
    "rl": {"strategy": {"name": "rl", "candidates": 3}, "space": MACRO},
    "random": {"strategy": {"name": "random", "candidates": 3}, "space": MACRO},
}
TRAINING = {"proxy": {"epochs": 1, "subset": 0.3}, "retrain": {"epochs": 2}}


# --- submission (no services needed)


def test_it_queues_a_nas_job_with_defaults_filled_in(alice_api, digits):
    response = submit(alice_api, "nas", digits, {"strategy": "evolution"})
    assert response.status_code == 201, response.json()
    job = Job.objects.get(id=response.json()["id"])
    assert job.kind == "nas" and job.status == "queued"
    assert job.config["space"]["name"] == "macro"
    assert job.config["strategy"] == {
        "name": "evolution",
        "population": 10,
        "sample_size": 3,
        "cycles": 20,
    }


@pytest.mark.parametrize(
    "config, field",
    [
        ({"strategy": "darts", "space": "mlp"}, "config.space.name"),
        ({"strategy": {"name": "darts", "order": "second"}}, "config.strategy.order"),
        ({"constraints": {"max_params": "small"}}, "config.constraints.max_params"),
        ({"parallelism": 2}, "config.parallelism"),
        ("darts", "config"),
    ],
)
def test_a_bad_nas_config_is_a_400_naming_the_field(alice_api, digits, config, field):
    response = submit(alice_api, "nas", digits, config)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and field in body["fields"], body
    assert not Job.objects.exists()


def test_evolution_and_random_search_take_a_parallelism(alice_api, digits):
    for strategy in ("evolution", "random"):
        response = submit(alice_api, "nas", digits, {"strategy": strategy, "parallelism": 3})
        assert response.status_code == 201, response.json()
        assert response.json()["config"]["parallelism"] == 3


@pytest.mark.parametrize("strategy", ["rl", "darts"])
def test_strategies_that_run_on_one_worker_refuse_a_parallelism(alice_api, digits, strategy):
    response = submit(alice_api, "nas", digits, {"strategy": strategy, "parallelism": 2})
    assert response.status_code == 400
    assert "runs on one worker" in response.json()["fields"]["config.parallelism"][0]
    assert (
        submit(alice_api, "nas", digits, {"strategy": strategy, "parallelism": 1}).status_code
        == 201
    )


def test_a_nas_jobs_stored_config_is_accepted_as_it_is(alice_api, digits, iris):
    for dataset, config in (
        (digits, {"strategy": "evolution", "parallelism": 2}),
        (iris, {"strategy": "rl"}),
    ):
        first = submit(alice_api, "nas", dataset, config).json()
        again = submit(alice_api, "nas", dataset, first["config"])
        assert again.status_code == 201, again.json()
        assert again.json()["config"] == first["config"]


def test_only_hpo_jobs_warm_start(alice_api, digits):
    response = submit(alice_api, "nas", digits, {"strategy": "random", "warm_start_from": 1})
    assert response.status_code == 400
    assert "config.warm_start_from" in response.json()["fields"]


def test_image_spaces_need_image_data(alice_api, iris):
    response = submit(alice_api, "nas", iris, {"space": "cell"})
    assert response.status_code == 400
    assert "needs images" in response.json()["fields"]["config.space.name"][0]
    assert submit(alice_api, "nas", iris, {"strategy": "random"}).status_code == 201  # mlp space


def test_nas_needs_a_classification_data_set(alice_api, db):
    diabetes = Dataset.objects.get(builtin_name="diabetes")
    response = submit(alice_api, "nas", diabetes, {})
    assert response.status_code == 400 and "classification" in response.json()["detail"]


# --- on a real worker


def check_model(job: dict) -> None:
    """The saved model reloads from its directory and scores the stored test accuracy."""
    from workers.data.builtin import load_builtin
    from workers.models.artifacts import load_model
    from workers.nas.config import NASConfig
    from workers.nas.engine import prepare

    retrain = job["result"]["retrain"]
    prepared = prepare(NASConfig.from_json(job["config"]), load_builtin("digits"))
    model = load_model(Path(retrain["directory"]))
    truth = np.asarray(prepared.classes)[prepared.y["test"]]
    accuracy = float(np.mean(model.predict(prepared.raw_test) == truth))
    assert accuracy == retrain["test_metrics"]["accuracy"] > 0.3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(TINY))
def test_every_strategy_runs_as_a_job(workers, api, name):
    workers.start()
    config = {**TINY[name], **TRAINING}
    job = api.submit("nas", "digits", config)
    job = api.wait_finished(job["id"])

    assert job["status"] == "succeeded", job["error_message"]
    assert job["progress"] == 1.0
    trials = api.all_trials(job["id"])
    result = job["result"]
    assert [t["number"] for t in trials] == list(range(len(trials)))
    assert {t["state"] for t in trials} == {"complete"}
    assert all("genotype" in t["params"] and t["intermediate_values"] for t in trials)
    assert result["best"]["score"] == trials[result["best"]["number"]]["values"][0]
    assert result["genotype"] == trials[result["best"]["number"]]["params"]["genotype"]
    if name.startswith("darts"):
        assert len(trials) == len(result["alpha_history"]) == config["strategy"]["epochs"]
    else:
        assert result["best"]["score"] == max(t["values"][0] for t in trials)
    check_model(job)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_search_whose_worker_died_resumes_from_its_stored_trials(workers, api):
    from automl.jobs.services import reconcile

    workers.start("w1")
    config = {
        "strategy": {"name": "evolution", "population": 3, "sample_size": 2, "cycles": 3},
        "space": {"name": "macro", "widths": [16, 32], "min_layers": 2},
        "proxy": {"epochs": 8},
        "retrain": {"epochs": 2},
    }
    job = api.submit("nas", "digits", config)
    api.wait(
        job["id"], lambda j: Trial.objects.filter(job_id=j["id"], state="complete").count() >= 2
    )
    workers.kill("w1")
    before = {
        (t.number, tuple(t.values))
        for t in Trial.objects.filter(job_id=job["id"], state="complete")
    }

    assert reconcile(queued_after_s=3600, stale_after_s=0)["resumed"] == 1
    workers.start("w2")
    job = api.wait_finished(job["id"], timeout_s=240)

    assert job["status"] == "succeeded", job["error_message"]
    trials = api.all_trials(job["id"])
    complete = {(t["number"], tuple(t["values"])) for t in trials if t["state"] == "complete"}
    assert before <= complete, "a finished trial was lost"
    assert len(complete) == 6, "the budget was neither restarted nor cut short"
    assert all("lost" in t["error"] for t in trials if t["state"] == "failed")
    assert sorted(t["number"] for t in trials) == list(range(len(trials)))
    assert len({t["worker"] for t in trials}) == 2
    assert job["result"]["n_complete"] == 6


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_paused_darts_job_resumes_from_its_checkpoint_on_another_worker(workers, api):
    from workers.checkpoint import Checkpoint
    from workers.nas.strategies.darts import CHECKPOINT

    workers.start("w1")
    epochs = 6
    config = {
        "strategy": {"name": "darts", "epochs": epochs, "batch_size": 128},
        "space": CELL,
        "retrain": {"epochs": 2},
    }
    job = api.submit("nas", "digits", config)
    # Once an epoch is stored (and checkpointed): the pause is seen before the next one.
    api.wait(job["id"], lambda j: Trial.objects.filter(job_id=j["id"]).exists())
    api.post(f"/api/v1/jobs/{job['id']}/pause/", expect=202)
    job = api.wait(job["id"], lambda j: j["status"] != "running")
    assert job["status"] == "paused", job["error_message"]
    first_run = api.all_trials(job["id"])
    paused_at = len(first_run)  # the epochs done when the pause was seen between two
    assert 1 <= paused_at < epochs, "the pause came after the search: make it longer"
    saved = Checkpoint(Job.objects.get(id=job["id"]).checkpoint_dir / CHECKPOINT).load()
    assert saved["epoch"] == paused_at - 1
    workers.kill("w1")  # the first worker is gone: only another one can resume the job

    workers.start("w2")
    workers.wait_ready("w2")
    api.post(f"/api/v1/jobs/{job['id']}/resume/", expect=202)
    job = api.wait_finished(job["id"], timeout_s=900)  # ends once finished

    assert job["status"] == "succeeded", job["error_message"]
    trials = api.all_trials(job["id"])
    assert [t["number"] for t in trials] == list(range(epochs))  # no epoch twice, none lost
    assert trials[:paused_at] == first_run  # the first worker's epochs kept as they were
    resumed = trials[paused_at:]
    assert {t["worker"] for t in resumed}.isdisjoint({t["worker"] for t in first_run})
    # The second worker started at the epoch after the checkpoint's, not at epoch 0.
    assert job["result"]["notes"]["resumed_at_epochs"] == [paused_at]
    assert [h["epoch"] for h in job["result"]["alpha_history"]] == list(range(epochs))
    assert job["result"]["best"]["number"] == epochs - 1
    assert not Job.objects.get(id=job["id"]).checkpoint_dir.exists()
    check_model(job)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_finished_random_search_extended_trains_more_candidates(workers, api):
    from automl.registry.models import ModelVersion

    workers.start()
    config = {**TINY["random"], **TRAINING}
    job = api.wait_finished(api.submit("nas", "digits", config)["id"])
    assert job["status"] == "succeeded", job["error_message"]
    first_run = api.all_trials(job["id"])
    assert len(first_run) == 3

    extended = api.post(f"/api/v1/jobs/{job['id']}/extend/", {"n_trials": 2}, expect=202)
    assert extended["status"] == "queued"
    assert extended["config"]["strategy"]["candidates"] == 5  # what the job now runs with
    job = api.wait_finished(job["id"])

    assert job["status"] == "succeeded", job["error_message"]
    trials = api.all_trials(job["id"])
    assert [t["number"] for t in trials] == list(range(5))
    assert trials[:3] == first_run  # the first run's candidates kept, none trained again
    assert {t["state"] for t in trials} == {"complete"}
    assert job["result"]["n_complete"] == 5
    assert job["result"]["best"]["score"] == max(t["values"][0] for t in trials)
    # A job registers one version, at its first close (registry: one_version_per_job).
    assert ModelVersion.objects.filter(job_id=job["id"]).count() == 1
    check_model(job)  # the retrained architecture of the extended search

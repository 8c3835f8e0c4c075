"""Pipelines on real worker processes (Postgres, Redis): the example file's HPO search →
int8 → gate → register → canary on a live deployment, and a gate that fails, stops the
pipeline with the reason and continues from the gate once the model is acceptable."""

from pathlib import Path

import pytest
import yaml

from automl.jobs.models import Job
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment
from tests.support.factories import FEATURES, forest_dir, mlp_dir, register

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline.yaml"
# Rows as arrays: the old forest names its features, the search's model the data set's.
ROW = [1.0] * len(FEATURES)


def test_hpo_int8_gate_register_canary(workers, api, tmp_path, django_user_model):
    owner = django_user_model.objects.get(username="analyst")
    # A deployment already serves the name the pipeline registers under: it gets a canary.
    old = register(owner, forest_dir(tmp_path / "old"), name="iris-pipeline")
    live = api.post(
        "/api/v1/deployments/",
        {"name": "iris-pipeline", "model_name": "iris-pipeline", "routes": [{"version": old.id}]},
    )
    example = yaml.safe_load(EXAMPLE.read_text())
    example["config"]["stages"][4]["share"] = 0.1
    workers.start()
    job = api.submit("pipeline", "iris", example["config"], name=example["name"])
    job = api.wait_finished(job["id"], timeout_s=300)

    assert job["status"] == "succeeded", job["error_message"]
    stages = job["result"]["stages"]
    assert [s["status"] for s in stages] == ["succeeded"] * 5
    search, compression = (Job.objects.get(id=stages[i]["job"]) for i in (0, 1))
    assert search.parent_id == compression.parent_id == job["id"]
    assert (search.kind, compression.kind) == ("hpo", "compression")
    shipped = ModelVersion.objects.get(id=job["result"]["model_version"])
    assert shipped.name == "iris-pipeline" and shipped.job_id == compression.id
    assert shipped.parent.job_id == search.id, "int8 of the search's model"
    assert shipped.stage == "staging" and [a.alias for a in shipped.aliases.all()] == [
        "challenger"
    ]
    assert {c["condition"] for c in stages[2]["checks"]} >= {"latency at batch 64 <= 1000 ms"}
    routes = {r["version"]: r["weight"] for r in Deployment.objects.get(id=live["id"]).routes}
    assert routes == {old.id: pytest.approx(90.0), shipped.id: pytest.approx(10.0)}
    # The canary answers requests.
    for seed in range(100):
        answer = api.post(
            f"/api/v1/deployments/{live['id']}/predict/", {"inputs": [ROW], "seed": seed}, 200
        )
        if answer["version"] == shipped.id:
            break
    else:
        raise AssertionError("no request reached the canary")


def test_a_failing_gate_stops_the_pipeline_with_the_reason(
    workers, api, tmp_path, django_user_model
):
    owner = django_user_model.objects.get(username="analyst")
    mlp = register(owner, mlp_dir(tmp_path / "mlp"), name="iris-mlp")
    config = {
        "model_version": mlp.id,
        "stages": [
            {"type": "compression", "config": {"steps": ["dynamic_int8"]}},
            {"type": "gate", "conditions": [{"check": "size", "max_bytes": 1}]},
            {"type": "register", "alias": "champion"},
        ],
    }
    workers.start()
    job = api.wait_finished(api.submit("pipeline", "iris", config)["id"])

    assert job["status"] == "failed"
    assert job["error_message"].startswith("stage 2 (gate) failed: size <= 1 bytes not met")
    assert [s["status"] for s in job["result"]["stages"]] == ["succeeded", "failed", "pending"]
    assert not ModelVersion.objects.filter(aliases__alias="champion").exists()
    # Continuing from the gate runs no compression again (the same child job's model).
    again = api.post(f"/api/v1/jobs/{job['id']}/retry-stage/", {"stage": 1}, expect=202)
    assert again["status"] == "queued"
    job = api.wait_finished(job["id"])
    assert job["status"] == "failed" and Job.objects.filter(parent_id=job["id"]).count() == 1
    assert job["result"]["stages"][1]["earlier"][0]["detail"].startswith("size <= 1 bytes")

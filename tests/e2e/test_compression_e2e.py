"""Compression jobs over REST: submission checks (DRF client), then every technique as a job
on a real worker process on Postgres and Redis, each step registered and reloadable."""

from dataclasses import asdict
from pathlib import Path

import pytest

from automl.jobs.models import Job
from automl.registry.models import ModelVersion
from tests.support.api import submit
from tests.support.factories import forest_dir, register, reload_accuracy


def register_mlp(owner, tmp_path: Path, name: str = "digits-mlp") -> ModelVersion:
    """A tiny trained MLP on digits, put in the registry as the caller's model."""
    from automl.registry.services import create_version
    from workers.data.builtin import load_builtin
    from workers.models.artifacts import save_model, scaling_spec
    from workers.training.mlp import MLP, MLPConfig, train_mlp

    data = load_builtin("digits")
    cfg = MLPConfig(n_features=64, n_outputs=10, hidden_layers=2, hidden_units=32, dropout=0.0)
    model = MLP(cfg)
    train_mlp(
        model,
        data.X,
        data.y,
        None,
        None,
        task="classification",
        epochs=5,
        lr=0.003,
        batch_size=64,
        weight_decay=0.0,
        seed=0,
    )
    spec = {"kind": "mlp", "config": asdict(cfg), "classes": data.classes, **scaling_spec(data.X)}
    save_model(model, tmp_path / name, family="mlp", spec=spec)
    return create_version(owner, tmp_path / name, name=name, source=ModelVersion.Source.IMPORT)


# --- submission (no services needed)


def test_it_queues_a_compression_job_with_defaults(alice, alice_api, digits, tmp_path):
    version = register_mlp(alice, tmp_path)
    response = submit(
        alice_api,
        "compression",
        digits,
        {"model_version": version.id, "steps": ["prune_structured", "dynamic_int8"]},
    )
    assert response.status_code == 201, response.json()
    job = Job.objects.get(id=response.json()["id"])
    assert job.kind == "compression" and job.status == "queued"
    assert job.config["steps"][0]["ratio"] == 0.5


def test_another_users_model_version_does_not_exist(alice, bob_api, digits, tmp_path):
    version = register_mlp(alice, tmp_path)
    response = submit(
        bob_api, "compression", digits, {"model_version": version.id, "steps": ["half"]}
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["fields"]["config.model_version"][0]
    teachers = submit(
        bob_api,
        "compression",
        digits,
        {
            "model_version": version.id,
            "steps": [{"technique": "distill", "teachers": [version.id]}],
        },
    )
    assert "config.steps" in teachers.json()["fields"]
    assert not Job.objects.exists()


def test_a_model_compression_cannot_start_from_is_refused_with_the_registry_reason(
    alice, alice_api, iris, digits, tmp_path, model_store
):
    from workers.models.kinds import refusal

    forest = register(alice, forest_dir(tmp_path / "forest"))
    response = submit(
        alice_api, "compression", iris, {"model_version": forest.id, "steps": ["half"]}
    )
    assert response.status_code == 400
    reason = refusal(forest.spec, "compress")
    assert reason and reason in response.json()["fields"]["config.model_version"][0]
    mlp = register_mlp(alice, tmp_path)
    teacher = submit(
        alice_api,
        "compression",
        digits,
        {"model_version": mlp.id, "steps": [{"technique": "distill", "teachers": [forest.id]}]},
    )
    assert "cannot teach" in teacher.json()["fields"]["config.steps"][0]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "config, field",
    [
        ({"steps": ["half"]}, "config.model_version"),
        (
            {"model_version": 1, "steps": [{"technique": "qat", "epochs": 0}]},
            "config.steps.0.epochs",
        ),
        ({"model_version": 1, "steps": "prune"}, "config.steps"),
        ({"model_version": 1, "steps": ["half"], "parallelism": 2}, "config.parallelism"),
        ([1], "config"),
    ],
)
def test_a_bad_compression_config_is_a_400_naming_the_field(alice_api, digits, config, field):
    response = submit(alice_api, "compression", digits, config)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and field in body["fields"], body


# --- on a real worker

JOBS = {
    "prune-distill-dynamic": [
        {"technique": "prune_magnitude", "sensitivity": True, "sparsity": 0.5},
        {"technique": "prune_structured", "ratio": 0.25, "steps": 2},
        {"technique": "distill", "mode": "feature", "epochs": 2, "teachers": ["input"]},
        {"technique": "dynamic_int8"},
    ],
    "distill-relation-static": [
        {"technique": "distill", "mode": "relation", "epochs": 1},
        {"technique": "static_int8", "observer": "histogram", "calibration_rows": 64},
    ],
    "qat": [{"technique": "qat", "epochs": 1}],
    "half": [{"technique": "half", "dtype": "float16"}],
    "weight-only-log2": [{"technique": "weight_only", "scheme": "log2", "bits": 5}],
    "mixed": [{"technique": "mixed", "bits": 4, "keep_float": 0.34}],
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_technique_runs_as_a_job(workers, api, tmp_path, django_user_model, name):
    from workers.data.builtin import load_builtin

    owner = django_user_model.objects.get(username="analyst")
    version = register_mlp(owner, tmp_path)
    steps = [{**s, "teachers": [version.id]} if s.get("teachers") else s for s in JOBS[name]]
    workers.start()
    job = api.submit(
        "compression",
        "digits",
        {"model_version": version.id, "steps": steps, "report": {"repeats": 3}},
    )
    job = api.wait_finished(job["id"])

    assert job["status"] == "succeeded", job["error_message"]
    result = job["result"]
    assert [s["technique"] for s in result["steps"]] == [s["technique"] for s in steps]
    parent = version.id
    data = load_builtin("digits")
    for i, step in enumerate(result["steps"]):
        registered = api.get(f"/api/v1/models/{step['model_version']}/")
        row = ModelVersion.objects.get(id=step["model_version"])
        assert row.parent_id == parent and row.source == "derived" and row.job_id == job["id"]
        assert row.compression["step"] == i
        assert row.metrics["accuracy"] == step["report"]["accuracy"]
        assert registered["id"] == row.id
        # The saved form alone gives the reported accuracy.
        assert (
            reload_accuracy(Path(step["directory"]), job["config"], data)
            == step["report"]["accuracy"]
        )
        parent = row.id
    last = result["steps"][-1]["report"]
    assert last["file_bytes"] < result["original"]["file_bytes"]

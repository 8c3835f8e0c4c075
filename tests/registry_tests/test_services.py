"""Registry rules without HTTP: numbering, job registration and lineage, stages."""

import threading

import pytest
from django.db import connection

from automl.errors import Conflict, Invalid
from automl.jobs.models import Job
from automl.registry import services
from automl.registry.models import ModelVersion
from tests.support.factories import FEATURES, forest_dir, make_job, mlp_dir, register

pytestmark = pytest.mark.django_db


def test_it_numbers_versions_per_owner_and_name(alice, bob, tmp_path, model_store):
    a1 = register(alice, forest_dir(tmp_path / "a1"), name="iris")
    a2 = register(alice, forest_dir(tmp_path / "a2"), name="iris")
    other = register(alice, forest_dir(tmp_path / "o"), name="other")
    b1 = register(bob, forest_dir(tmp_path / "b1"), name="iris")
    assert [a1.version, a2.version, other.version, b1.version] == [1, 2, 1, 1]
    assert a1.storage_key != a2.storage_key


def test_it_records_what_the_model_is(alice, tmp_path, model_store):
    version = register(alice, mlp_dir(tmp_path / "m"))
    assert version.framework == "torch" and version.family == "mlp"
    assert version.task == "classification" and version.classes == [0, 1, 2]
    assert version.features == FEATURES and version.n_features == 4
    assert len(version.sha256) == 64 and version.size > 0
    assert version.latency_ms is not None and version.latency_ms > 0
    assert (model_store / version.storage_key / "weights.safetensors").is_file()


def test_a_jobs_model_is_registered_once_with_its_lineage(alice, iris, tmp_path, model_store):
    job = make_job(
        alice,
        iris,
        name="Iris forest #1",
        status=Job.Status.RUNNING,
        config={"task": "classification", "model": "random_forest", "seed": 7},
    )
    directory = forest_dir(tmp_path / "best")
    refit = {"trial": 3, "params": {"n_estimators": 5}, "test_metrics": {"accuracy": 0.97}}

    first = services.register_job_model(job, directory, refit)
    again = services.register_job_model(job, directory, refit)

    assert again.id == first.id
    assert ModelVersion.objects.filter(job=job).count() == 1
    assert first.name == "iris-forest-1" and first.version == 1
    assert first.source == "job" and first.owner == alice
    assert first.trial_number == 3 and first.metrics == {"accuracy": 0.97}
    assert first.dataset == iris and first.dataset_sha256 == ""
    assert first.config == job.config and first.seed == 7
    assert first.code_version and first.code_version != ""


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_name_get_distinct_numbers(alice, tmp_path, model_store):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs Postgres")
    directories = [forest_dir(tmp_path / str(i)) for i in range(4)]
    errors = []

    def worker(directory):
        try:
            register(alice, directory, name="race")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(d,)) for d in directories]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = sorted(ModelVersion.objects.filter(name="race").values_list("version", flat=True))
    assert numbers == [1, 2, 3, 4]


def test_promotion_demotes_the_previous_production_version(alice, tmp_path, model_store):
    v1 = register(alice, forest_dir(tmp_path / "1"))
    v2 = register(alice, forest_dir(tmp_path / "2"))
    services.set_stage(v1, "production")
    services.set_stage(v2, "staging")
    services.set_stage(v2, "production")
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == ("archived", "production")
    assert ModelVersion.objects.filter(stage="production").count() == 1


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["staging", "production", "staging", "none"], True),
        (["archived", "staging", "production"], True),
        (["archived", "production"], False),
        (["production", "none"], False),
    ],
)
def test_stage_rules(alice, tmp_path, model_store, path, allowed):
    version = register(alice, forest_dir(tmp_path / "m"))
    *ok, last = path
    for stage in ok:
        version = services.set_stage(version, stage)
    if allowed:
        assert services.set_stage(version, last).stage == last
    else:
        with pytest.raises(Conflict):
            services.set_stage(version, last)


def test_a_version_in_traffic_cannot_be_archived(alice, tmp_path, model_store):
    from automl.serving.traffic import create_deployment

    version = register(alice, forest_dir(tmp_path / "m"))
    create_deployment(
        alice, name="live", model_name=version.name, routes=[{"version": version.id, "weight": 1}]
    )
    with pytest.raises(Conflict, match="live"):
        services.set_stage(version, "archived")


def test_a_broken_directory_is_refused(alice, tmp_path, model_store):
    directory = forest_dir(tmp_path / "m")
    (directory / "model.skops").write_bytes(b"not the file the spec hashed")
    with pytest.raises(Invalid, match="not a loadable model"):
        register(alice, directory)
    assert not ModelVersion.objects.exists()
    assert not any((model_store / "versions").rglob("*")) if model_store.exists() else True


@pytest.mark.parametrize("features, ok", [(["pixels"], True), (["a", "b"], False)])
def test_an_image_model_names_its_one_image_column_or_a_column_per_pixel(tmp_path, features, ok):
    # An uploaded .npz of images has one column, "pixels": a cnn trained on it names that
    # column (it was refused: "spec.features names 1 columns, the model takes 64").
    from dataclasses import asdict

    from workers.models.artifacts import save_model
    from workers.training.cnn import CNN, CNNConfig

    cfg = CNNConfig(in_channels=1, height=8, width=8, n_outputs=3, channels=(4,))
    spec = {"kind": "cnn", "config": asdict(cfg), "classes": [0, 1, 2], "features": features}
    save_model(CNN(cfg), tmp_path / "m", family="cnn", spec=spec)
    per_pixel = {**spec, "features": [f"p{i}" for i in range(64)]}
    save_model(CNN(cfg), tmp_path / "flat", family="cnn", spec=per_pixel)
    assert services.describe_directory(tmp_path / "flat")["features"] == per_pixel["features"]
    if ok:
        assert services.describe_directory(tmp_path / "m")["features"] == ["pixels"]
    else:
        with pytest.raises(Invalid, match="names 2 columns, the model takes 64"):
            services.describe_directory(tmp_path / "m")

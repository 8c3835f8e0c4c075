"""Bring your own model: an imported ONNX graph is monitored for drift when its zip brings
the reference statistics of the rows it was trained on (reference.json, as the platform
writes it with workers.models.artifacts.write_reference)."""

import io
import zipfile

import pytest

from automl.registry.models import ModelVersion
from tests.support.factories import FEATURES, iris_xy
from tests.support.onnx_graphs import IRIS_SPEC, iris_logistic
from tests.support.traffic import traffic
from workers.models.artifacts import file_record, write_json, write_reference

pytestmark = pytest.mark.django_db


def test_an_imported_onnx_graph_with_its_reference_flags_a_shifted_feature(
    alice, alice_api, staff_api, tmp_path, model_store
):
    from automl.serving.traffic import create_deployment

    directory = tmp_path / "byom"
    directory.mkdir()
    (directory / "model.onnx").write_bytes(iris_logistic()[1])
    spec = {"kind": "onnx", "framework": "onnx", "format_version": 1, **IRIS_SPEC}
    spec.update(file_record(directory / "model.onnx"))
    write_json(directory / "spec.json", spec)
    write_reference(directory, iris_xy()[0], FEATURES, spec)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("spec.json", "model.onnx", "reference.json"):
            z.write(directory / name, name)
    imported = alice_api.post(
        "/api/v1/models/import/",
        {"name": "iris", "archive": io.BytesIO(archive.getvalue())},
        format="multipart",
    )
    assert imported.status_code == 201, imported.json()
    version = ModelVersion.objects.get(id=imported.json()["id"])
    deployment = create_deployment(
        alice,
        name="iris-onnx",
        model_name="iris",
        routes=[{"version": version.id, "weight": 1}],
        cache_ttl_s=0,
    )
    traffic(alice_api, deployment, seed=1, shift={"sepal_width": 1.0})
    report = staff_api.post(
        "/api/v1/monitoring/drift/",
        {"deployment": deployment.id, "hours": 1, "share_threshold": 0.25},
        format="json",
    )
    assert report.status_code == 201, report.json()
    assert report.json()["n_rows"] == 400
    assert report.json()["drifted_features"] == ["sepal_width"]

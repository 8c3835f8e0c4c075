"""Bring your own model, ONNX: a graph trained elsewhere is imported with its spec, checked
as data before onnxruntime sees it, served through onnxruntime, and refused with a 4xx
naming why when it is too big, reads tensors from outside itself or is not ONNX."""

import io
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from automl.registry.models import ModelVersion
from tests.support.factories import iris_xy, rows
from tests.support.onnx_graphs import IRIS_SPEC, gemm_graph, iris_logistic
from workers.models.kinds import refusal

pytestmark = pytest.mark.django_db


def _import(api, graph: bytes, spec=IRIS_SPEC, name="iris-onnx"):
    return api.post(
        "/api/v1/models/import/",
        {"name": name, "spec": io.BytesIO(json.dumps(spec).encode()), "onnx": io.BytesIO(graph)},
        format="multipart",
    )


def test_an_onnx_graph_imports_and_serves_what_it_computes(alice_api, model_store):
    model, graph = iris_logistic()
    response = _import(alice_api, graph)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["framework"], body["n_features"], body["task"]) == ("onnx", 4, "classification")
    version = ModelVersion.objects.get(id=body["id"])
    assert version.data_file == "model.onnx" and version.spec["kind"] == "onnx"

    deployment = alice_api.post(
        "/api/v1/deployments/",
        {
            "name": "iris-onnx-live",
            "model_name": "iris-onnx",
            "routes": [{"version": version.id, "weight": 1}],
        },
        format="json",
    )
    assert deployment.status_code == 201, deployment.json()
    X, _ = iris_xy()
    answer = alice_api.post(
        f"/api/v1/deployments/{deployment.json()['id']}/predict/",
        {"inputs": rows(X[::10])},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    expected = np.asarray(IRIS_SPEC["classes"])[model.predict(X[::10])]
    assert answer.json()["predictions"] == expected.tolist()
    proba = np.asarray(answer.json()["probabilities"])
    np.testing.assert_allclose(proba, model.predict_proba(X[::10]), atol=1e-4)


def test_a_downloaded_onnx_version_imports_again(alice_api, model_store):
    _, graph = iris_logistic()
    first = _import(alice_api, graph).json()
    archive = alice_api.get(f"/api/v1/models/{first['id']}/download/")
    assert archive.status_code == 200
    again = alice_api.post(
        "/api/v1/models/import/",
        {"name": "iris-onnx", "archive": io.BytesIO(b"".join(archive.streaming_content))},
        format="multipart",
    )
    assert again.status_code == 201, again.json()
    assert again.json()["sha256"] == first["sha256"] and again.json()["version"] == 2


def test_what_an_onnx_graph_cannot_do_is_refused_naming_why():
    spec = {"kind": "onnx", "framework": "onnx", **IRIS_SPEC}
    assert refusal(spec, "deploy") is None and refusal(spec, "download") is None
    assert "ONNX graph already" in refusal(spec, "export_onnx")
    assert "has none" in refusal(spec, "compress")


def test_an_absurd_initializer_is_refused_before_a_session_exists(
    alice_api, model_store, monkeypatch
):
    import onnxruntime

    monkeypatch.setattr(
        onnxruntime, "InferenceSession", lambda *a, **k: pytest.fail("a session was created")
    )
    # Declared 10^12 floats (4 TB) with no data: the shape alone refuses it.
    huge = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    response = _import(alice_api, gemm_graph(huge, b))
    assert response.status_code == 400, response.json()
    message = response.json()["fields"]["onnx"][0]
    assert "1000000000003 parameters" in message and "MODEL_MAX_PARAMETERS (50000000)" in message
    assert not ModelVersion.objects.exists()


def test_a_tensor_read_from_outside_the_file_is_refused(alice_api, model_store, tmp_path):
    # onnxruntime would open the path the graph names: a secret file's bytes as weights.
    secret = tmp_path / "secret"
    secret.write_bytes(b"\0" * 48)
    W = numpy_helper.from_array(np.zeros((3, 4), np.float32), "W")
    W.ClearField("raw_data")
    W.data_location = TensorProto.EXTERNAL
    W.external_data.add(key="location", value=str(secret))
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    response = _import(alice_api, gemm_graph(W, b))
    assert response.status_code == 400, response.json()
    assert "keeps its data outside the file" in response.json()["fields"]["onnx"][0]


@pytest.mark.parametrize(
    "graph, spec, field, words",
    [
        (b"not a protobuf at all", IRIS_SPEC, "onnx", "not an ONNX model"),
        (None, {**IRIS_SPEC, "classes": None}, "files", "needs spec.classes"),
        (None, {**IRIS_SPEC, "scores": "votes"}, "files", "spec.scores must be one of"),
        (
            None,
            {**IRIS_SPEC, "classes": ["a", "b"]},
            "files",
            "answers 3 class scores, spec.classes names 2",
        ),
    ],
)
def test_bad_graphs_and_specs_are_a_4xx_naming_the_problem(
    alice_api, model_store, graph, spec, field, words
):
    graph = graph if graph is not None else iris_logistic()[1]
    response = _import(alice_api, graph, spec=spec)
    assert response.status_code == 400, response.json()
    assert words in response.json()["fields"][field][0], response.json()
    assert not ModelVersion.objects.exists()


def test_a_custom_operator_domain_is_refused(alice_api, model_store):
    graph = onnx.load_from_string(iris_logistic()[1])
    graph.graph.node[0].domain = "com.example.evil"
    response = _import(alice_api, graph.SerializeToString())
    assert response.status_code == 400
    assert "com.example.evil" in response.json()["fields"]["onnx"][0]

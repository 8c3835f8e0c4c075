"""Exports and bundles: TorchScript, ONNX, the Triton repository, the serving bundle."""

import io
import json
import urllib.request
import zipfile

import numpy as np
import pytest
import torch

from tests.support.factories import FEATURES, forest_dir, iris_xy, mlp_dir, register, rows
from tests.support.servers import bundle_server
from workers.models.artifacts import decode_predictions, load_model, load_transformer
from workers.models.export import ExportError, to_onnx, to_torchscript, triton_config

pytestmark = [
    pytest.mark.django_db,
    # TorchScript is deprecated upstream but still what many serving stacks load.
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning"),
]


def int8_dir(path):
    """The iris MLP quantized to dynamic int8, knowing its labels and its data's target."""
    from workers.compression.store import load_compressed, save_compressed
    from workers.compression.techniques import DynamicInt8
    from workers.hpo.options import Options

    model = load_compressed(mlp_dir(path.with_name(path.name + "-float")))
    model.spec.update(
        class_labels=["setosa", "versicolor", "virginica"], ignored_columns=["species"]
    )
    save_compressed(DynamicInt8().apply(model, Options(), None), path, family="compressed-mlp")
    return path


@pytest.fixture
def mlp_version(alice, tmp_path, model_store):
    return register(alice, mlp_dir(tmp_path / "m"), name="iris-mlp")


def test_torchscript_gives_the_models_probabilities(tmp_path):
    directory = mlp_dir(tmp_path / "m")
    path = to_torchscript(directory, tmp_path / "model.pt")
    X, _ = iris_xy()
    scripted = torch.jit.load(str(path))
    with torch.no_grad():
        out = scripted(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, load_model(directory).predict_proba(X), atol=1e-5)


def test_onnx_gives_the_models_probabilities(tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator

    directory = mlp_dir(tmp_path / "m")
    path = to_onnx(directory, tmp_path / "model.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    X, _ = iris_xy()
    out = ReferenceEvaluator(model).run(None, {"input": X.astype(np.float32)})[0]
    np.testing.assert_allclose(out, load_model(directory).predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("preprocessing", [False, True])
def test_sklearn_models_export_to_onnx_but_not_torchscript(tmp_path, preprocessing):
    import onnxruntime

    directory = forest_dir(tmp_path / "f", preprocessing=preprocessing)
    session = onnxruntime.InferenceSession(str(to_onnx(directory, tmp_path / "model.onnx")))
    X, _ = iris_xy()
    labels, probabilities = session.run(None, {"input": X.astype(np.float32)})
    model, scaler = load_model(directory), load_transformer(directory) if preprocessing else None
    rows = X if scaler is None else scaler.transform(X)
    np.testing.assert_allclose(probabilities, model.predict_proba(rows), atol=1e-4)
    with pytest.raises(ExportError, match="TorchScript holds torch networks"):
        to_torchscript(directory, tmp_path / "model.pt")


def test_int8_refuses_onnx_naming_why(alice_api, alice, tmp_path, model_store):
    directory = int8_dir(tmp_path / "q")
    with pytest.raises(ExportError, match="int8"):
        to_onnx(directory, tmp_path / "model.onnx")
    assert to_torchscript(directory, tmp_path / "model.pt").is_file()
    version = register(alice, directory, name="iris-int8")
    response = alice_api.get(f"/api/v1/models/{version.id}/export/onnx/")
    assert response.status_code == 409 and "int8" in response.json()["detail"]


def test_export_endpoint(alice_api, alice, mlp_version, tmp_path):
    url = f"/api/v1/models/{mlp_version.id}/export/"
    response = alice_api.get(url + "torchscript/")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    scripted = torch.jit.load(io.BytesIO(content))
    assert scripted(torch.zeros(3, 4)).shape == (3, 3)
    assert alice_api.get(url + "onnx/").status_code == 200
    assert alice_api.get(url + "pmml/").status_code == 404
    forest = register(alice, forest_dir(tmp_path / "f"), name="iris-forest")
    assert alice_api.get(f"/api/v1/models/{forest.id}/export/onnx/").status_code == 200
    response = alice_api.get(f"/api/v1/models/{forest.id}/export/torchscript/")
    assert response.status_code == 409 and "TorchScript" in response.json()["detail"]
    response = alice_api.get(f"/api/v1/models/{forest.id}/triton/")
    assert response.status_code == 409 and "torch networks" in response.json()["detail"]


def test_triton_repository_holds_onnx_and_its_config(alice_api, mlp_version, tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator

    response = alice_api.get(f"/api/v1/models/{mlp_version.id}/triton/")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert sorted(zf.namelist()) == [
            "README.md",
            "iris_mlp_v1/1/model.onnx",
            "iris_mlp_v1/config.pbtxt",
        ]
        config = zf.read("iris_mlp_v1/config.pbtxt").decode()
        model = onnx.load_from_string(zf.read("iris_mlp_v1/1/model.onnx"))
    assert 'name: "iris_mlp_v1"' in config and 'backend: "onnxruntime"' in config
    assert "dims: [ 4 ]" in config and "dims: [ 3 ]" in config
    # The config names the graph's own input and output.
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["output"]
    X, _ = iris_xy()
    out = ReferenceEvaluator(model).run(None, {"input": X[:5].astype(np.float32)})[0]
    assert out.shape == (5, 3)


def test_regression_config_has_one_value_per_row():
    text = triton_config(
        "r",
        {
            "input": "input",
            "output": "output",
            "input_dims": [10],
            "output_dims": [],
            "task": "regression",
        },
    )
    assert "reshape: { shape: [ ] }" in text


@pytest.mark.slow
@pytest.mark.parametrize("make", [forest_dir, mlp_dir, int8_dir], ids=["forest", "mlp", "int8"])
def test_the_bundle_serves_the_same_answers(alice_api, alice, tmp_path, model_store, make):
    version = register(alice, make(tmp_path / "m"), name="bundled")
    response = alice_api.get(f"/api/v1/models/{version.id}/bundle/")
    assert response.status_code == 200
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        zf.extractall(folder)
    for name in (
        "Dockerfile",
        "compose.yml",
        "serve.py",
        "requirements.txt",
        "MODEL_CARD.md",
        "model/spec.json",
        "workers/models/artifacts.py",
    ):
        assert (folder / name).is_file(), name
    assert "torch==" in (folder / "requirements.txt").read_text()

    with bundle_server(folder) as base:
        X, _ = iris_xy()
        spec = json.loads((folder / "model" / "spec.json").read_text())
        # A full raw row: the columns the model does not read ride along and are ignored.
        sent = [
            {**row, **dict.fromkeys(spec.get("ignored_columns", []), "x")} for row in rows(X[:10])
        ]
        request = urllib.request.Request(
            base + "/predict",
            data=json.dumps({"inputs": sent}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        body = json.load(urllib.request.urlopen(request, timeout=10))
    model = load_model(model_store / version.storage_key)
    expected = decode_predictions(spec, model.predict(X[:10]), model.classes_).tolist()
    assert body["predictions"] == expected
    if "class_labels" in spec:  # the data's own labels, not the indices trained on
        assert set(expected) <= set(spec["class_labels"])
    assert body["probabilities"] == model.predict_proba(X[:10]).tolist()
    assert len(FEATURES) == 4


def test_exports_never_run_at_once_in_one_process(tmp_path, monkeypatch):
    # torch.export and the tracer are not thread-safe: a second export waits for the first.
    import threading

    directory = mlp_dir(tmp_path / "m")
    inside, peak, guard, second = [0], [0], threading.Lock(), threading.Event()
    trace = torch.jit.trace

    def tracing(*args, **kwargs):
        with guard:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            if inside[0] > 1:
                second.set()
        second.wait(0.5)  # without the lock, the other thread comes in meanwhile
        try:
            return trace(*args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(torch.jit, "trace", tracing)
    threads = [
        threading.Thread(target=to_torchscript, args=(directory, tmp_path / f"{i}.pt"))
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1
    assert all((tmp_path / f"{i}.pt").is_file() for i in range(2))

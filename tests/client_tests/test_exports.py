"""The Python client and the CLI save a version's ONNX export (a scikit-learn model, its
preprocessing included) and report what its kind refuses (a live server; no worker)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from automl_client import Client
from automl_client.cli import cli
from automl_client.errors import ApiError
from tests.support.factories import forest_dir, iris_xy, register

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_saves_an_onnx_export_and_names_a_refusal(live_server, analyst, tmp_path, model_store):
    import onnxruntime

    version = register(analyst, forest_dir(tmp_path / "v1", preprocessing=True), name="iris")
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    path = client.models.export(version.id, "onnx", tmp_path)
    assert path.parent == tmp_path and path.suffix == ".onnx"
    session = onnxruntime.InferenceSession(str(path))
    X, y = iris_xy()
    labels, _ = session.run(None, {"input": X.astype(np.float32)})
    assert (labels == y).mean() > 0.9
    with pytest.raises(ApiError) as refused:
        client.models.export(version.id, "torchscript", tmp_path)
    assert refused.value.status == 409 and "TorchScript" in refused.value.detail

    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    target = tmp_path / "cli.onnx"
    result = runner.invoke(cli, ["--json", "models", "export", str(version.id), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == str(target)
    assert target.read_bytes() == path.read_bytes()

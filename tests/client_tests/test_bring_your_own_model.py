"""The Python client and the CLI import a model trained elsewhere (an ONNX graph with its
spec) and report a refused graph's reason (a live server; no worker)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, numpy_helper

from automl_client import Client
from automl_client.cli import cli
from automl_client.errors import ApiError
from tests.support.onnx_graphs import IRIS_SPEC, gemm_graph, iris_logistic

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_client_and_the_cli_import_an_onnx_graph(live_server, analyst, tmp_path, model_store):
    _, graph = iris_logistic()
    (tmp_path / "model.onnx").write_bytes(graph)
    (tmp_path / "spec.json").write_text(json.dumps(IRIS_SPEC))
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    version = client.models.import_("iris-onnx", spec=IRIS_SPEC, onnx=tmp_path / "model.onnx")
    assert (version.raw["framework"], version.raw["n_features"]) == ("onnx", 4)

    huge = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[10**6, 10**6])
    (tmp_path / "huge.onnx").write_bytes(
        gemm_graph(huge, numpy_helper.from_array(np.zeros(3, np.float32), "b"))
    )
    with pytest.raises(ApiError) as refused:
        client.models.import_("huge", spec=IRIS_SPEC, onnx=tmp_path / "huge.onnx")
    assert refused.value.status == 400 and "MODEL_MAX_PARAMETERS" in str(refused.value.detail)

    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    args = ["--spec", str(tmp_path / "spec.json"), "--onnx", str(tmp_path / "model.onnx")]
    result = runner.invoke(cli, ["--json", "models", "import", "--name", "iris-onnx", *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == 2


def test_the_client_imports_a_skops_pipeline(live_server, analyst, tmp_path, model_store):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tests.support.factories import iris_xy

    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(*iris_xy())
    sio.dump(pipeline, tmp_path / "model.skops")
    client = Client.login(live_server.url, "analyst", "analyst-password-1")
    version = client.models.import_("iris-skops", spec=IRIS_SPEC, skops=tmp_path / "model.skops")
    assert (version.raw["framework"], version.raw["n_features"]) == ("sklearn", 4)


def test_the_cli_imports_a_torch_export_program(live_server, analyst, tmp_path, model_store):
    from tests.support.pt2_archives import iris_program

    (tmp_path / "model.pt2").write_bytes(iris_program()[1])
    (tmp_path / "spec.json").write_text(json.dumps(IRIS_SPEC))
    runner = CliRunner()
    login = ["login", "--url", live_server.url, "--username", "analyst"]
    assert runner.invoke(cli, [*login, "--password", "analyst-password-1"]).exit_code == 0
    args = ["--spec", str(tmp_path / "spec.json"), "--pt2", str(tmp_path / "model.pt2")]
    result = runner.invoke(cli, ["--json", "models", "import", "--name", "iris-pt2", *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["framework"] == "torch-export"

"""The kind x action matrix over real workers on Postgres and Redis (issue 18, item 4).

Rows: every HPO family on the analyst's uploaded CSV (a categorical column, missing numbers,
a string target; svm also under roc_auc and log_loss; ridge on a numeric target of the same
file), a cnn and a DARTS genotype on the built-in digits (the convolutional kinds need
images, which an uploaded table is not), an evolution genotype on the CSV, and the CSV's
MLP after each compression technique. Columns: the actions of the model-kind registry.

Each cell works (its answers agree with its parent's, or with the version in process,
within the technique's tolerance) or is refused everywhere with the registry's reason: the
API answers 409 (a compression submission 400 naming config.model_version) and the model
page offers no link to it.

Built for CI time: every row's model is trained once (module fixtures, one trial, few
epochs, a 160-row table), one worker runs every job while the cells are API calls against
a live server. The module's data is committed outside the tests' transactions, so it stays
between tests; the module flushes it at its end, as transactional tests do.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.support.api import Api, browser_for
from tests.support.data import churn_csv
from tests.support.servers import bundle_server
from tests.support.workers import Workers, missing_services, skip_or_fail

pytestmark = [
    pytest.mark.slow,
    # Each test's own reads roll back; the module's data was committed before it (below).
    pytest.mark.django_db,
    # TorchScript is deprecated upstream but still what many serving stacks load.
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning"),
]

TARGET = "churned"
HPO = {  # row -> (model family, metric); one trial each, fixed small settings
    "logistic_regression": ("logistic_regression", "accuracy"),
    "random_forest": ("random_forest", "accuracy"),
    "hist_gradient_boosting": ("hist_gradient_boosting", "accuracy"),
    "knn": ("knn", "accuracy"),
    "svm": ("svm", "accuracy"),
    "svm-roc_auc": ("svm", "roc_auc"),
    "svm-log_loss": ("svm", "log_loss"),
    "mlp": ("mlp", "accuracy"),
}
SPACES = {
    "random_forest": {"n_estimators": {"type": "fixed", "value": 20}},
    "mlp": {
        "hidden_layers": {"type": "fixed", "value": 1},
        "hidden_units": {"type": "fixed", "value": 32},
        "lr": {"type": "fixed", "value": 0.01},
        "batch_size": {"type": "fixed", "value": 16},
        "epochs": {"type": "fixed", "value": 30},
    },
    "cnn": {
        "width": {"type": "fixed", "value": 8},
        "blocks": {"type": "fixed", "value": 1},
        "lr": {"type": "fixed", "value": 0.01},
        "batch_size": {"type": "fixed", "value": 64},
        "epochs": {"type": "fixed", "value": 2},
    },
}
TECHNIQUES = {  # one compression job per technique, from the CSV's MLP
    "prune_magnitude": {"technique": "prune_magnitude", "sparsity": 0.5},
    "prune_structured": {"technique": "prune_structured", "ratio": 0.25},
    "distill": {"technique": "distill", "epochs": 30},
    "dynamic_int8": {"technique": "dynamic_int8"},
    "static_int8": {"technique": "static_int8", "calibration_rows": 64},
    "qat": {"technique": "qat", "epochs": 1},
    "half": {"technique": "half", "dtype": "float16"},
    "weight_only": {"technique": "weight_only"},
    "mixed": {"technique": "mixed"},
}
# The share of rows whose served label may differ from the parent's: quantizers keep the
# network; a pruned or distilled network is a different, smaller one.
AGREEMENT = dict.fromkeys(TECHNIQUES, 0.05) | {
    "prune_magnitude": 0.15,
    "prune_structured": 0.15,
    "distill": 0.2,
}
# How close exported graphs, bundles and re-imports answer to the served version.
ATOL = {"half": 2e-2, "mixed": 1e-3}
ROWS = [*HPO, "ridge", "cnn", "darts", "evolution", *TECHNIQUES]
ACTIONS = [
    "register",
    "evaluate",
    "explain",
    "export_onnx",
    "export_torchscript",
    "download",
    "bundle",
    "deploy",
    "drift",
    "compress",
]
# The model page's link for an action it offers (refused: absent).
LINKS = {
    "export_onnx": "/api/v1/models/{id}/export/onnx/",
    "export_torchscript": "/api/v1/models/{id}/export/torchscript/",
    "compress": "/jobs/new/compression/?model={id}",
}
JOB_TIMEOUT_S = 600
# Compress again with the first of these that applies to the row's form (the cheap ones).
AGAIN = ["dynamic_int8", "half", "weight_only", "prune_magnitude", "distill"]
AGAIN_STEPS = {"distill": {"technique": "distill", "epochs": 30}}  # a fresh student learns


class Matrix:
    """The live server, the analyst's and a staff member's API sessions, and each row's
    registered version (trained on first use, all rows' jobs at once)."""

    def __init__(self, base: str, api: Api, staff: Api, user) -> None:
        self.base, self.api, self.staff, self.user = base, api, staff, user
        self.versions: dict[str, dict] = {}  # row -> {"id", "parent", "dataset", ...}
        self.deployments: dict[str, dict] = {}
        self.failed: dict[str, str] = {}  # row -> why it has no version
        self.digits: int | None = None
        self.browser = requests.Session()  # the analyst's signed-in browser

    # --- training every row once

    def train(self) -> None:
        api = self.api
        churn = api.upload("churn.csv", churn_csv(), target=TARGET)
        tenure = api.upload("tenure.csv", churn_csv(), target="tenure")
        digits = self._upload_digits()
        jobs = {}
        for row, (family, metric) in HPO.items():
            jobs[row] = self._hpo(churn["id"], row, family, metric)
        jobs["ridge"] = self._hpo(tenure["id"], "ridge", "ridge", "rmse")
        jobs["cnn"] = self._hpo(digits, "cnn", "cnn", "accuracy")
        nas = {"proxy": {"epochs": 1, "subset": 0.3}, "retrain": {"epochs": 3}}
        jobs["darts"] = api.submit(
            "nas",
            digits,
            {
                "strategy": {"name": "darts", "epochs": 1, "batch_size": 128},
                "space": {"name": "cell", "cells": 2, "nodes": 2, "channels": 4},
                **nas,
            },
            name="m-darts",
        )
        jobs["evolution"] = api.submit(
            "nas",
            churn["id"],
            {
                "strategy": {"name": "evolution", "population": 2, "sample_size": 2, "cycles": 1},
                "space": {"name": "mlp", "widths": [16, 32], "max_layers": 2},
                "proxy": {"epochs": 5},
                "retrain": {"epochs": 30},
            },
            name="m-evolution",
        )
        for row, job in jobs.items():
            self._registered(row, api.wait_finished(job["id"], JOB_TIMEOUT_S), churn["id"])
        if "mlp" not in self.versions:
            return
        compressions = {
            technique: api.submit(
                "compression",
                churn["id"],
                {"model_version": self.versions["mlp"]["id"], "steps": [step]},
            )
            for technique, step in TECHNIQUES.items()
        }
        for technique, job in compressions.items():
            self._registered(technique, api.wait_finished(job["id"], JOB_TIMEOUT_S), churn["id"])

    def _upload_digits(self) -> int:
        """The built-in digits as an analyst uploads images: an .npz of 8 x 8 pixels."""
        from workers.data.builtin import load_builtin

        data = load_builtin("digits")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, X=data.X[:300].reshape(-1, 8, 8), y=data.y[:300])
        response = self.api.session.post(
            self.base + "/api/v1/datasets/",
            files={"file": ("digits.npz", buffer.getvalue())},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        self.digits = response.json()["id"]
        return self.digits

    def _hpo(self, dataset: int, row: str, family: str, metric: str) -> dict:
        config = {
            "model": family,
            "metric": metric,
            "n_trials": 1,
            "sampler": {"name": "random", "seed": 0},
        }
        if family in SPACES:
            config["search_space"] = SPACES[family]
        return self.api.submit("hpo", dataset, config, name=f"m-{row}")

    def _registered(self, row: str, job: dict, churn: int) -> None:
        """Note the row's version, or why it has none (its cells fail saying so)."""
        if job["status"] != "succeeded":
            self.failed[row] = f"{job['kind']} job {job['id']}: {job['error_message']}"
            return
        result = job["result"]
        if job["kind"] == "compression":
            step = result["steps"][0]
            self.versions[row] = {
                "id": step["model_version"],
                "parent": self.versions["mlp"]["id"],
                "job": job,
                "dataset": churn,
                "accuracy": step["report"]["accuracy"],
            }
            return
        made = result["refit"] if job["kind"] == "hpo" else result["retrain"]
        if "model_version" not in made:
            self.failed[row] = f"job {job['id']} registered nothing: {made}"
            return
        self.versions[row] = {
            "id": made["model_version"],
            "parent": None,
            "job": job,
            "dataset": job["dataset"],
            "accuracy": made["test_metrics"].get("accuracy"),
        }

    # --- what a cell needs

    def row(self, row: str) -> dict:
        """What training left for the row; the test fails when its job made no version."""
        if row not in self.versions:
            pytest.fail(f"{row}: no version ({self.failed.get(row, 'its parent has none')})")
        return self.versions[row]

    def version(self, row: str) -> dict:
        return self.api.get(f"/api/v1/models/{self.row(row)['id']}/")

    def inputs(self, row: str, n: int = 40) -> list:
        """Rows as a client sends them: the CSV's full raw rows (the target and the columns
        the preprocessing drops ride along), or digits' pixel rows."""
        if self.row(row)["dataset"] == self.digits:
            from workers.data.builtin import load_builtin

            # Flat rows of 64 pixels: what predict takes for an image model.
            return load_builtin("digits").X[:n].tolist()
        lines = churn_csv().splitlines()
        header = lines[0].split(";")
        return [
            {name: (value or None) for name, value in zip(header, line.split(";"), strict=True)}
            for line in lines[1 : n + 1]
        ]

    def deployment(self, row: str) -> dict:
        """The row's version deployed alone (created on first use)."""
        if row not in self.deployments:
            version = self.version(row)
            self.deployments[row] = self.api.post(
                "/api/v1/deployments/",
                {
                    "name": f"m-{row.replace('_', '-')}",
                    "model_name": version["name"],
                    "routes": [{"version": version["id"], "weight": 1}],
                },
            )
        return self.deployments[row]

    def predict(self, row: str, inputs: list, timeout: float = 30, **fields) -> dict:
        deployment = self.deployment(row)
        response = self.api.session.post(
            f"{self.base}/api/v1/deployments/{deployment['id']}/predict/",
            json={"inputs": inputs, **fields},
            timeout=timeout,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def refusals(self, row: str) -> dict[str, str]:
        from automl.registry.models import ModelVersion

        return ModelVersion.objects.get(id=self.row(row)["id"]).refusals()

    def directory(self, row: str) -> Path:
        from automl.registry.models import ModelVersion
        from automl.registry.storage import get_storage

        version = ModelVersion.objects.get(id=self.row(row)["id"])
        return get_storage().local_dir(version.storage_key)

    def model_input(self, row: str, inputs: list) -> np.ndarray:
        """Raw rows as the exported graph takes them: after the version's preprocessing."""
        from workers.models.artifacts import load_preprocessing

        spec = self.version(row)
        features = spec["features"]
        if inputs and isinstance(inputs[0], dict):
            X = np.array([[r[f] for f in features] for r in inputs], dtype=object)
        else:
            X = np.asarray(inputs, dtype=np.float64)
        transformer = load_preprocessing(self.directory(row))
        if transformer is not None:
            X = transformer.transform(X)
        return np.asarray(X, dtype=np.float32)

    def typed_feeds(self, row: str, inputs: list) -> dict[str, np.ndarray]:
        """Raw rows as the typed-column inputs of a scikit-learn version's ONNX graph."""
        from workers.models.artifacts import load_preprocessing
        from workers.models.sklearn_onnx import typed_feeds

        features = self.version(row)["features"]
        X = np.array([[r[f] for f in features] for r in inputs], dtype=object)
        return typed_feeds(load_preprocessing(self.directory(row)), X)

    def page(self, row: str) -> str:
        """The model page, from the live server (signed in by a session made once: a sign-in
        inside a test's transaction would hold the user's row locked against the server)."""
        response = self.browser.get(f"{self.base}/models/{self.row(row)['id']}/", timeout=30)
        assert response.status_code == 200, response.status_code
        return response.text


@pytest.fixture(scope="module")
def matrix(django_db_setup, django_db_blocker, tmp_path_factory):
    """Every row trained once, on a live server of our own and one real worker.

    pytest-django's live_server would wrap each test in a transactional database that is
    flushed after it; this module's versions must outlive a test, so it holds the database
    open for the module and flushes it at the end itself."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from pytest_django.live_server_helper import LiveServer

    from automl.celery import app as celery_app
    from automl.serving import cache
    from automl.serving.loader import model_cache

    skip_or_fail(missing_services())
    patch = pytest.MonkeyPatch()
    # The server's request threads must not keep connections open past the module.
    patch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    with django_db_blocker.unblock():
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        pool = Workers(tmp_path_factory.mktemp("matrix-workers"))
        try:
            model_cache().clear()
            cache.clear()
            users = get_user_model().objects
            user = users.create_user("matrix", password="matrix-password-1")
            users.create_user("matrix-staff", password="matrix-password-1", is_staff=True)
            api = Api.sign_in(server.url, "matrix", "matrix-password-1")
            staff = Api.sign_in(server.url, "matrix-staff", "matrix-password-1")
            with celery_app.connection_for_write() as conn:
                conn.default_channel.queue_purge("cpu")
            pool.start("matrix", EVALUATION_RESAMPLES="100")
            matrix = Matrix(server.url, api, staff, user)
            matrix.browser.cookies.set("sessionid", browser_for(user).cookies["sessionid"].value)
            matrix.train()
            yield matrix
        finally:
            pool.stop_all()
            server._live_server_modified_settings.disable()
            server.stop()
            patch.undo()
            call_command("flush", interactive=False, verbosity=0)


def _refused(matrix: Matrix, row: str, action: str) -> str | None:
    """The registry's reason, after checking the page offers the action iff it is allowed."""
    reason = matrix.refusals(row).get(action)
    if action in LINKS:
        link = LINKS[action].format(id=matrix.row(row)["id"])
        page = matrix.page(row)
        assert (link in page) == (reason is None), (action, reason)
        if reason is not None:
            assert reason in page.replace("&#x27;", "'")
    return reason


def _assert_409(response, reason: str) -> None:
    assert response.status_code == 409, response.text
    assert reason[:40] in json.dumps(response.json()), (response.json(), reason)


@pytest.mark.parametrize("row", ROWS)
def test_register(matrix, row):
    version = matrix.version(row)  # the row's job succeeded and registered its model
    assert _refused(matrix, row, "register") is None
    assert version["metrics"], version
    if version["task"] == "classification":
        assert set(version["spec"]["class_labels"]) <= {"no", "yes"} or row in (
            "cnn",
            "darts",
        ), version["spec"]
    assert (matrix.directory(row) / "reference.json").is_file()
    parent = matrix.row(row)["parent"]
    assert version["lineage"]["parent"] == parent if parent else True


@pytest.mark.parametrize("row", ROWS)
def test_evaluate(matrix, row):
    assert _refused(matrix, row, "evaluate") is None
    path = f"/api/v1/models/{matrix.row(row)['id']}/evaluation/"
    # Registration queues a job's own model's evaluation; a derived version's is asked for.
    if matrix.api.session.get(matrix.base + path, timeout=10).status_code == 404:
        matrix.api.post(path, expect=202)

    def done():
        response = matrix.api.session.get(matrix.base + path, timeout=10)
        return response.status_code == 200 and response.json()["status"] in ("succeeded", "failed")

    deadline = time.monotonic() + JOB_TIMEOUT_S
    while not done():
        assert time.monotonic() < deadline, f"{row}: no evaluation"
        time.sleep(0.5)
    evaluation = matrix.api.get(path)
    assert evaluation["status"] == "succeeded", evaluation["error"]
    metrics = evaluation["report"]["metrics"]
    if row == "ridge":
        assert "rmse" in metrics
        return
    accuracy = metrics["accuracy"]["value"]
    reported = matrix.row(row)["accuracy"]
    assert abs(accuracy - reported) <= 0.01, (accuracy, reported)  # the same held-out rows


@pytest.mark.parametrize("row", ROWS)
def test_explain(matrix, row):
    assert _refused(matrix, row, "explain") is None
    body = matrix.predict(row, matrix.inputs(row, 2), explain=True, timeout=120)
    explained = body["explanations"]["rows"]
    features = matrix.version(row)["features"]
    assert len(explained) == 2
    # An image model's one column is explained pixel by pixel.
    assert len(explained[0]["attributions"]) in (len(features), 64), explained[0]


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("row", ROWS)
def test_export(matrix, row, fmt, tmp_path):
    import torch

    from workers.models.kinds import kind_of

    path = f"/api/v1/models/{matrix.row(row)['id']}/export/{fmt}/"
    response = matrix.api.session.get(matrix.base + path, timeout=120)
    if reason := _refused(matrix, row, f"export_{fmt}"):
        _assert_409(response, reason)
        return
    assert response.status_code == 200, response.text
    inputs = matrix.inputs(row, 20)
    X = matrix.model_input(row, inputs)
    spec = matrix.version(row)["spec"]

    def network_input(X: np.ndarray) -> np.ndarray:
        shape = kind_of(spec).input_shape(spec)
        return X.reshape(len(X), *shape) if shape and len(shape) == 3 else X  # images: NCHW

    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(response.content)
        names = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        # A scikit-learn version with its preprocessing takes one input per typed column
        # (workers.models.sklearn_onnx) and answers labels and probabilities.
        feeds = (
            matrix.typed_feeds(row, inputs) if names != ["input"] else {"input": network_input(X)}
        )
        wanted = ["probabilities"] if "probabilities" in outputs else outputs[:1]
        out = session.run(wanted, feeds)[0]
    else:
        target = tmp_path / "model.pt"
        target.write_bytes(response.content)
        with torch.no_grad():
            out = torch.jit.load(str(target))(torch.as_tensor(network_input(X))).float().numpy()
    served = matrix.predict(row, inputs)
    expected = served["probabilities"] if "probabilities" in served else served["predictions"]
    if expected and isinstance(np.ravel(expected)[0], str):
        # A classifier without probabilities (an SVM under accuracy) exports its labels,
        # the class indices its estimator predicts (the served answer names them).
        from workers.models.artifacts import load_model

        model = load_model(matrix.directory(row))
        np.testing.assert_array_equal(out.ravel(), model.predict(X), err_msg=row)
        return
    np.testing.assert_allclose(
        out.reshape(np.shape(expected)), expected, atol=ATOL.get(row, 1e-4), err_msg=row
    )


@pytest.mark.parametrize("row", ROWS)
def test_download_and_reimport(matrix, row):
    reason = _refused(matrix, row, "download")
    version_id = matrix.row(row)["id"]
    response = matrix.api.session.get(
        matrix.base + f"/api/v1/models/{version_id}/download/", timeout=60
    )
    if reason:
        _assert_409(response, reason)
        return
    assert response.status_code == 200, response.text
    imported = matrix.api.session.post(
        matrix.base + "/api/v1/models/import/",
        timeout=120,
        data={"name": f"reimported-{row.replace('_', '-')}"},
        files={"archive": ("model.zip", io.BytesIO(response.content), "application/zip")},
    )
    assert imported.status_code == 201, imported.text
    copy = imported.json()
    original = matrix.version(row)
    assert copy["sha256"] == original["sha256"] and copy["features"] == original["features"]
    from automl.registry.models import ModelVersion

    assert ModelVersion.objects.get(id=copy["id"]).refusals() == matrix.refusals(row)
    # Served, the import answers as the original does.
    deployment = matrix.api.post(
        "/api/v1/deployments/",
        {
            "name": f"reimported-{row.replace('_', '-')}",
            "model_name": copy["name"],
            "routes": [{"version": copy["id"], "weight": 1}],
        },
    )
    inputs = matrix.inputs(row, 20)
    again = matrix.api.post(
        f"/api/v1/deployments/{deployment['id']}/predict/", {"inputs": inputs}, expect=200
    )
    served = matrix.predict(row, inputs)
    assert again["predictions"] == served["predictions"]


@pytest.mark.parametrize("row", ROWS)
def test_bundle(matrix, row, tmp_path):
    reason = _refused(matrix, row, "bundle")
    response = matrix.api.session.get(
        matrix.base + f"/api/v1/models/{matrix.row(row)['id']}/bundle/", timeout=120
    )
    if reason:
        _assert_409(response, reason)
        return
    assert response.status_code == 200, response.text
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        zf.extractall(folder)
    inputs = matrix.inputs(row, 20)
    with bundle_server(folder, start_within_s=120) as base:
        request = urllib.request.Request(
            base + "/predict",
            data=json.dumps({"inputs": inputs}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            body = json.load(urllib.request.urlopen(request, timeout=60))
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{row}: the bundle answered {exc.code}: {exc.read().decode()}")
    served = matrix.predict(row, inputs)
    assert body["predictions"] == served["predictions"]
    if "probabilities" in served:
        np.testing.assert_allclose(body["probabilities"], served["probabilities"], atol=1e-6)


@pytest.mark.parametrize("row", ROWS)
def test_deploy_and_predict(matrix, row):
    assert _refused(matrix, row, "deploy") is None
    inputs = matrix.inputs(row)
    body = matrix.predict(row, inputs)
    assert body["version"] == matrix.row(row)["id"]
    version = matrix.version(row)
    if version["task"] == "classification" and row not in ("cnn", "darts"):
        assert set(body["predictions"]) <= {"no", "yes"}  # the data's labels, not indices
    if parent := matrix.row(row)["parent"]:
        parent_row = next(r for r, v in matrix.versions.items() if v["id"] == parent)
        theirs = matrix.predict(parent_row, inputs)["predictions"]
        differ = np.mean(np.asarray(body["predictions"]) != np.asarray(theirs))
        assert differ <= AGREEMENT[row], (row, differ)


@pytest.mark.parametrize("row", ROWS)
def test_drift(matrix, row):
    assert _refused(matrix, row, "drift") is None
    deployment = matrix.deployment(row)
    matrix.predict(row, matrix.inputs(row))
    report = matrix.staff.post(
        "/api/v1/monitoring/drift/",
        {"deployment": deployment["id"], "version": matrix.row(row)["id"]},
    )
    assert set(report["result"]["features"]) == set(matrix.version(row)["features"]), report


@pytest.mark.parametrize("row", ROWS)
def test_compress_again(matrix, row):
    from workers.models.kinds import technique_refusal

    reason = _refused(matrix, row, "compress")
    version_id = matrix.row(row)["id"]
    spec = matrix.version(row)["spec"]
    technique = next(
        (t for t in AGAIN if not reason and technique_refusal(spec, t) is None), AGAIN[0]
    )
    response = matrix.api.session.post(
        matrix.base + "/api/v1/jobs/",
        json={
            "kind": "compression",
            "dataset": matrix.row(row)["dataset"],
            "config": {
                "model_version": version_id,
                "steps": [AGAIN_STEPS.get(technique, technique)],
            },
        },
        timeout=30,
    )
    if reason:  # refused at submission, naming the registry's reason
        assert response.status_code == 400, response.text
        body = json.dumps(response.json())
        if matrix.version(row)["task"] == "regression":  # compression checks the task first
            assert "compression needs a classification data set" in body, body
        else:
            assert reason in body, (reason, body)
        return
    assert response.status_code == 201, response.text
    job = matrix.api.wait_finished(response.json()["id"], JOB_TIMEOUT_S)
    assert job["status"] == "succeeded", job["error_message"]
    step = job["result"]["steps"][0]
    parent = matrix.row(row)["accuracy"]
    if step["report"]["accuracy"] < parent - AGREEMENT.get(technique, 0.05):
        # A fresh student distilled from a quantized model in the default budget may lose
        # more than that: the job must say so on the step (issue 18: never silently).
        assert job["result"]["flagged"] == [0] and "flagged" in step, job["result"]


# Issue 18's Done-when path: upload -> HPO (each family) -> compress -> deploy -> predict ->
# drift answers with the accuracy the parent reported (within a point). Quantizers keep the
# network, so a quantized child must too; pruning and distillation make another network
# (their cells above allow their own tolerance).
PATH_ROWS = [*HPO, "dynamic_int8", "half"]


@pytest.mark.parametrize("row", PATH_ROWS)
def test_the_served_accuracy_is_the_reported_one(matrix, row):
    from automl.datasets.models import Dataset
    from automl.datasets.services import training_data
    from automl.jobs.models import Job
    from workers.evaluation.report import split_rows

    made = matrix.row(row)
    parent = matrix.row("mlp") if made["parent"] else made
    job = Job.objects.get(id=parent["job"]["id"])  # the rows the parent held out
    data = training_data(Dataset.objects.get(id=made["dataset"]), job.config)
    _, test = split_rows(data.y, data.task, job.config["test_size"], job.config["seed"])
    features = list(data.feature_names)
    inputs = [dict(zip(features, row_cells, strict=True)) for row_cells in data.X[test].tolist()]
    body = matrix.predict(row, inputs)
    truth = np.asarray(data.classes)[np.asarray(data.y[test], dtype=np.int64)]
    served = float(np.mean(np.asarray(body["predictions"]) == truth))
    assert abs(served - parent["accuracy"]) <= 0.01, (row, served, parent["accuracy"])
    if made["parent"]:  # the compression job measured the same on the same rows
        report = made["job"]["result"]
        assert abs(report["original"]["accuracy"] - parent["accuracy"]) <= 0.01, report
        assert abs(made["accuracy"] - served) <= 0.01, (made["accuracy"], served)
    drift = matrix.staff.post(
        "/api/v1/monitoring/drift/",
        {"deployment": matrix.deployment(row)["id"], "version": made["id"]},
    )
    assert set(drift["result"]["features"]) >= {"plan", "tenure"}, drift

"""The registry over REST: listing, ownership, stages, download and re-import, compare."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from automl.registry.models import ModelVersion
from tests.support.factories import FEATURES, forest_dir, iris_xy, mlp_dir, register
from workers.models.artifacts import load_model, load_transformer

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_model(alice, tmp_path, model_store):
    return register(
        alice,
        forest_dir(tmp_path / "forest"),
        name="iris-forest",
        metrics={"accuracy": 0.95},
        tags=["baseline"],
    )


def test_it_lists_filters_and_searches_your_versions(alice_api, alice, bob, tmp_path, model_store):
    register(alice, forest_dir(tmp_path / "a"), name="iris-forest", tags=["baseline"])
    register(alice, mlp_dir(tmp_path / "b"), name="iris-mlp", description="a small network")
    register(bob, forest_dir(tmp_path / "c"), name="iris-forest")

    def names(query=""):
        response = alice_api.get(f"/api/v1/models/{query}")
        assert response.status_code == 200, response.json()
        return [v["name"] for v in response.json()["results"]]

    assert names() == ["iris-forest", "iris-mlp"]
    assert names("?framework=torch") == ["iris-mlp"]
    assert names("?search=network") == ["iris-mlp"]
    assert names("?tag=baseline") == ["iris-forest"]
    assert names("?name=iris-mlp&stage=none") == ["iris-mlp"]
    response = alice_api.get("/api/v1/models/?stage=gold")
    assert response.status_code == 400
    assert "stage" in response.json()["fields"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/models/{id}/", None),
        ("patch", "/api/v1/models/{id}/", {"tags": ["x"]}),
        ("post", "/api/v1/models/{id}/stage/", {"stage": "staging"}),
        ("get", "/api/v1/models/{id}/download/", None),
        ("get", "/api/v1/models/{id}/export/onnx/", None),
        ("get", "/api/v1/models/{id}/bundle/", None),
        ("get", "/api/v1/models/{id}/triton/", None),
    ],
)
def test_another_users_version_is_a_404(bob_api, alices_model, method, path, body):
    response = getattr(bob_api, method)(path.format(id=alices_model.id), body, format="json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    alices_model.refresh_from_db()
    assert alices_model.stage == "none" and alices_model.tags == ["baseline"]


def test_compare_refuses_another_users_version(bob_api, bob, alices_model, tmp_path):
    mine = register(bob, forest_dir(tmp_path / "b"), name="x")
    response = bob_api.get(f"/api/v1/models/compare/?ids={mine.id},{alices_model.id}")
    assert response.status_code == 400
    assert str(alices_model.id) in response.json()["fields"]["ids"][0]


def test_compare_puts_versions_side_by_side(alice_api, alice, alices_model, tmp_path):
    other = register(alice, mlp_dir(tmp_path / "m"), name="iris-mlp", metrics={"f1": 0.9})
    response = alice_api.get(f"/api/v1/models/compare/?ids={alices_model.id},{other.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["metrics"] == ["accuracy", "f1"]
    assert [v["metrics"] for v in body["versions"]] == [
        {"accuracy": 0.95, "f1": None},
        {"accuracy": None, "f1": 0.9},
    ]
    assert all(v["size"] > 0 and v["latency_ms"] > 0 for v in body["versions"])
    assert alice_api.get("/api/v1/models/compare/?ids=1").status_code == 400


def test_stage_endpoint_promotes_and_refuses_bad_moves(alice_api, alice, alices_model, tmp_path):
    second = register(alice, forest_dir(tmp_path / "2"), name="iris-forest")
    url = "/api/v1/models/{}/stage/"
    assert alice_api.post(url.format(alices_model.id), {"stage": "production"}).status_code == 200
    response = alice_api.post(url.format(second.id), {"stage": "production"})
    assert response.status_code == 200 and response.json()["stage"] == "production"
    alices_model.refresh_from_db()
    assert alices_model.stage == "archived"

    response = alice_api.post(url.format(alices_model.id), {"stage": "production"})
    assert response.status_code == 409
    assert response.json()["fields"] == {"stage": ["not allowed from archived"]}
    response = alice_api.post(url.format(second.id), {"stage": "gold"})
    assert response.status_code == 400 and "stage" in response.json()["fields"]


def test_patch_updates_description_and_tags(alice_api, alices_model):
    url = f"/api/v1/models/{alices_model.id}/"
    response = alice_api.patch(
        url, {"description": "best so far", "tags": ["a", "b"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["tags"] == ["a", "b"]
    response = alice_api.patch(url, {"tags": "a"}, format="json")
    assert response.status_code == 400 and "tags" in response.json()["fields"]


def _unzip(content: bytes, target):
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        zf.extractall(target)
        return sorted(zf.namelist())


def scaled_dir(path):
    return forest_dir(path, preprocessing=True)


@pytest.mark.parametrize(
    "make", [forest_dir, mlp_dir, scaled_dir], ids=["forest", "mlp", "with_preprocessing"]
)
def test_download_then_import_gives_the_same_predictions(
    alice_api, alice, tmp_path, model_store, make
):
    original = register(alice, make(tmp_path / "orig"), name="round-trip")
    response = alice_api.get(f"/api/v1/models/{original.id}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    content = b"".join(response.streaming_content)
    names = _unzip(content, tmp_path / "unzipped")
    assert "MODEL_CARD.md" in names and "spec.json" in names and "lineage.json" in names
    assert "round-trip v1" in (tmp_path / "unzipped" / "MODEL_CARD.md").read_text()

    archive = io.BytesIO(content)
    archive.name = "model.zip"
    response = alice_api.post(
        "/api/v1/models/import/", {"name": "round-trip", "archive": archive}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    imported = ModelVersion.objects.get(id=response.json()["id"])
    assert (imported.version, imported.source) == (2, "import")
    assert imported.sha256 == original.sha256 and imported.features == FEATURES

    X, _ = iris_xy()
    answers = []
    for version in (original, imported):
        directory = model_store / version.storage_key
        model = load_model(directory)
        Xt = load_transformer(directory).transform(X) if version.has_preprocessing else X
        answers.append(np.asarray(model.predict_proba(Xt)))
    np.testing.assert_array_equal(answers[0], answers[1])


def test_import_from_spec_and_safetensors(alice_api, tmp_path, model_store):
    directory = mlp_dir(tmp_path / "m")
    spec = json.loads((directory / "spec.json").read_text())
    files = {
        "name": "uploaded",
        "spec": io.BytesIO(json.dumps(spec).encode()),
        "weights": (directory / "weights.safetensors").open("rb"),
        "tags": "imported, torch",
    }
    response = alice_api.post("/api/v1/models/import/", files, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["framework"] == "torch" and body["tags"] == ["imported", "torch"]
    assert body["n_features"] == 4


def _post_import(api, **fields):
    return api.post("/api/v1/models/import/", {"name": "bad", **fields}, format="multipart")


def test_import_refuses_bad_files_naming_the_field(alice_api, tmp_path, model_store):
    directory = mlp_dir(tmp_path / "m")
    spec = json.loads((directory / "spec.json").read_text())
    weights = (directory / "weights.safetensors").read_bytes()

    response = _post_import(alice_api)
    assert response.status_code == 400 and "spec" in response.json()["fields"]

    response = _post_import(alice_api, spec=io.BytesIO(b"{not json"), weights=io.BytesIO(weights))
    assert response.status_code == 400 and "spec" in response.json()["fields"]

    wrong = {**spec, "config": {**spec["config"], "hidden_units": 16}}  # weights do not fit
    response = _post_import(
        alice_api, spec=io.BytesIO(json.dumps(wrong).encode()), weights=io.BytesIO(weights)
    )
    assert response.status_code == 400, response.json()
    # Refused from the safetensors header, before the weights are read.
    assert "the spec needs [16, 4]" in response.json()["fields"]["weights"][0]

    response = _post_import(
        alice_api, spec=io.BytesIO(json.dumps(spec).encode()), weights=io.BytesIO(b"garbage")
    )
    assert response.status_code == 400

    response = _post_import(alice_api, archive=io.BytesIO(b"not a zip"))
    assert response.status_code == 400 and "archive" in response.json()["fields"]

    response = alice_api.post(
        "/api/v1/models/import/", {"name": "no spaces allowed"}, format="multipart"
    )
    assert response.status_code == 400 and "name" in response.json()["fields"]
    assert not ModelVersion.objects.exists()


def test_import_refuses_a_skops_file_with_untrusted_types(alice_api, tmp_path, model_store):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=os.system).fit(np.zeros((2, 2))), path)
    response = _post_import(
        alice_api, spec=io.BytesIO(b'{"task": "regression"}'), skops=path.open("rb")
    )
    assert response.status_code == 400
    assert "not allowed" in response.json()["detail"]
    assert not ModelVersion.objects.exists()


def test_a_zip_with_other_files_only_reads_model_files(
    alice_api, alice, alices_model, tmp_path, model_store
):
    content = b"".join(
        alice_api.get(f"/api/v1/models/{alices_model.id}/download/").streaming_content
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("../../escape.py", "print('no')")
    buffer.seek(0)
    response = _post_import(alice_api, archive=buffer)
    assert response.status_code == 201, response.json()
    imported = ModelVersion.objects.get(id=response.json()["id"])
    stored = sorted(p.name for p in (model_store / imported.storage_key).iterdir())
    assert stored == ["model.skops", "spec.json"]
    assert not (tmp_path.parent / "escape.py").exists()

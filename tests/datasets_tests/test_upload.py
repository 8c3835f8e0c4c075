"""Uploads that work: stored once, hashed, profiled, immutable, deletable unless in use."""

import hashlib
import io

import numpy as np
import pytest

from automl.datasets import services
from automl.datasets.models import Dataset
from tests.support.api import upload
from tests.support.data import IRIS_LIKE, stored_files

pytestmark = pytest.mark.django_db


def test_it_stores_a_csv_with_its_hash_and_profile(alice_api, artifacts):
    response = upload(alice_api, "flowers.csv", IRIS_LIKE)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["source"], body["owner"]) == ("flowers", "upload", "alice")
    assert (body["task"], body["target_name"]) == ("classification", "species")
    assert (body["n_rows"], body["n_features"]) == (60, 3)
    assert body["sha256"] == hashlib.sha256(IRIS_LIKE.encode()).hexdigest()
    assert body["size_bytes"] == len(IRIS_LIKE.encode())
    assert body["file_layout"] == {"encoding": "utf-8", "delimiter": ","}
    assert body["profile_status"] == "ready"
    profile = body["profile"]
    kinds = {c["name"]: c["kind"] for c in profile["columns"]}
    assert kinds == {
        "sepal": "numeric",
        "petal": "numeric",
        "colour": "categorical",
        "species": "categorical",
    }
    sepal = profile["columns"][0]
    assert sepal["missing"] == 0 and sepal["distinct"] == 7
    assert sepal["min"] == 5.0 and sepal["max"] == pytest.approx(5.6)
    assert sum(sepal["histogram"]["counts"]) == 60
    assert {c["value"]: c["count"] for c in profile["target"]["classes"]} == {
        "setosa": 20,
        "versicolor": 20,
        "virginica": 20,
    }
    dataset = Dataset.objects.get(id=body["id"])
    assert dataset.path.read_text() == IRIS_LIKE
    assert dataset.path.name == "data.csv" and dataset.path.parent.parent == artifacts / "datasets"
    assert stored_files(artifacts) == [dataset.directory, dataset.path]


@pytest.mark.parametrize(
    "encoding,delimiter",
    [
        ("utf-8", ";"),
        ("utf-8-sig", "\t"),
        ("latin-1", ","),
    ],
)
def test_it_reads_every_delimiter_and_encoding(alice_api, artifacts, encoding, delimiter):
    rows = [["ville", "température", "pluie"]] + [
        [["Zürich", "Genève", "Besançon"][i % 3], str(10 + i % 9), "oui" if i % 2 else "non"]
        for i in range(30)
    ]
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    response = upload(
        alice_api, "météo.csv", text.encode(encoding), target="température", task="regression"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["file_layout"] == {"encoding": encoding, "delimiter": delimiter}
    assert body["columns"] == ["ville", "température", "pluie"]
    assert body["task"] == "regression"
    columns = {c["name"]: c for c in body["profile"]["columns"]}
    assert columns["ville"]["top"][0]["value"] in ("Zürich", "Genève", "Besançon")
    assert columns["pluie"]["kind"] == "categorical"
    assert columns["température"]["kind"] == "numeric"


def test_it_infers_regression_for_a_real_valued_target(alice_api, artifacts):
    text = "a,b,y\n" + "".join(f"{i},{i % 3},{i * 0.37:.2f}\n" for i in range(40))
    body = upload(alice_api, "r.csv", text).json()
    assert body["task"] == "regression" and body["target_name"] == "y"
    assert body["profile"]["target"]["task"] == "regression"


def test_it_stores_an_npz_of_images(alice_api, artifacts):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, X=rng.random((30, 8, 8)), y=np.arange(30) % 3)
    response = upload(alice_api, "digits.npz", buffer.getvalue())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["data_kind"], body["file_format"], body["task"]) == (
        "images",
        "npz",
        "classification",
    )
    assert body["file_layout"]["x_shape"] == [30, 8, 8]
    assert body["profile"]["columns"][0]["name"] == "pixels"
    data = services.training_data(Dataset.objects.get(id=body["id"]), {"task": "classification"})
    assert data.X.shape == (30, 1, 8, 8) and data.make_transformer is None


def test_large_files_are_profiled_by_the_worker_task(
    alice_api, artifacts, settings, django_capture_on_commit_callbacks
):
    settings.DATASET_PROFILE_INLINE_BYTES = 100
    with django_capture_on_commit_callbacks() as sent:
        response = upload(alice_api, "big.csv", IRIS_LIKE)
    body = response.json()
    assert body["profile_status"] == "pending" and body["profile"] == {}
    assert len(sent) == 1  # sent once the upload's transaction commits
    # on_commit does not fire inside the test transaction; the task does the work.
    from automl.datasets.tasks import profile_dataset

    assert profile_dataset(body["id"]) == "ready"
    assert profile_dataset(body["id"]) == "ready"  # a second delivery changes nothing
    detail = alice_api.get(f"/api/v1/datasets/{body['id']}/").json()
    assert detail["profile_status"] == "ready" and detail["profile"]["n_rows"] == 60


def test_uploads_are_immutable(alice_api, artifacts):
    dataset_id = upload(alice_api, "a.csv", IRIS_LIKE).json()["id"]
    for method in (alice_api.put, alice_api.patch):
        response = method(f"/api/v1/datasets/{dataset_id}/", {"name": "x"}, format="json")
        assert response.status_code == 405
        assert response.json()["error"] == "method_not_allowed"


def test_another_users_upload_is_a_404(alice_api, bob_api, artifacts):
    dataset_id = upload(alice_api, "a.csv", IRIS_LIKE).json()["id"]
    assert bob_api.get(f"/api/v1/datasets/{dataset_id}/").status_code == 404
    assert bob_api.delete(f"/api/v1/datasets/{dataset_id}/").status_code == 404
    listed = [d["id"] for d in bob_api.get("/api/v1/datasets/").json()["results"]]
    assert dataset_id not in listed
    assert Dataset.objects.filter(id=dataset_id).exists()


def test_delete_removes_the_row_and_the_file(alice_api, artifacts):
    dataset_id = upload(alice_api, "a.csv", IRIS_LIKE).json()["id"]
    assert alice_api.delete(f"/api/v1/datasets/{dataset_id}/").status_code == 204
    assert not Dataset.objects.filter(id=dataset_id).exists()
    assert stored_files(artifacts) == []


def test_a_data_set_that_a_job_uses_cannot_be_deleted(alice_api, artifacts):
    dataset_id = upload(alice_api, "a.csv", IRIS_LIKE).json()["id"]
    job = alice_api.post(
        "/api/v1/jobs/",
        {
            "kind": "hpo",
            "dataset": dataset_id,
            "config": {"model": "logistic_regression", "n_trials": 1},
        },
        format="json",
    )
    assert job.status_code == 201, job.content
    response = alice_api.delete(f"/api/v1/datasets/{dataset_id}/")
    assert response.status_code == 409
    assert response.json() == {
        "error": "in_use",
        "detail": "The data set is in use: 1 job(s) use this data set.",
    }
    assert Dataset.objects.filter(id=dataset_id).exists()
    assert Dataset.objects.get(id=dataset_id).path.exists()


def test_a_protected_reference_is_a_409_too(alice_api, artifacts, monkeypatch):
    from django.db.models import ProtectedError

    dataset_id = upload(alice_api, "a.csv", IRIS_LIKE).json()["id"]

    def protected(self, *args, **kwargs):
        raise ProtectedError("model versions use it", {object()})

    monkeypatch.setattr(Dataset, "delete", protected)
    response = alice_api.delete(f"/api/v1/datasets/{dataset_id}/")
    assert response.status_code == 409
    assert "1 object(s) use this data set" in response.json()["detail"]
    assert Dataset.objects.get(id=dataset_id).path.exists()


def test_builtin_data_sets_have_profiles(alice_api):
    rows = alice_api.get("/api/v1/datasets/?page_size=100").json()["results"]
    builtins = [r for r in rows if r["source"] == "builtin"]
    assert len(builtins) == 5 and all(r["profile_status"] == "ready" for r in builtins)
    iris = next(r for r in builtins if r["builtin_name"] == "iris")
    profile = alice_api.get(f"/api/v1/datasets/{iris['id']}/").json()["profile"]
    assert profile["n_rows"] == 150 and len(profile["columns"]) == 4
    assert [c["count"] for c in profile["target"]["classes"]] == [50, 50, 50]


def test_the_first_rows_as_stored_over_the_api_client_and_cli(alice_api, artifacts):
    """The rows the data set's page shows: an upload's cells as its file holds them."""
    dataset = upload(alice_api, "f.csv", IRIS_LIKE, target="species").json()["id"]
    body = alice_api.get(f"/api/v1/datasets/{dataset}/rows/?limit=2").json()
    assert body == {
        "columns": ["sepal", "petal", "colour", "species"],
        "rows": [["5.0", "1.0", "blue", "setosa"], ["5.1", "1.3", "red", "versicolor"]],
    }
    assert len(alice_api.get(f"/api/v1/datasets/{dataset}/rows/").json()["rows"]) == 10
    for bad in ("0", "1001", "many"):
        answer = alice_api.get(f"/api/v1/datasets/{dataset}/rows/?limit={bad}")
        assert answer.status_code == 400 and "limit" in answer.json()["fields"], bad

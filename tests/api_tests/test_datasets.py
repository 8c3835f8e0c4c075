import pytest

BUILTINS = {"iris", "wine", "breast_cancer", "digits", "diabetes"}


@pytest.mark.django_db
def test_every_user_sees_the_builtin_datasets(alice_api, bob_api):
    for api in (alice_api, bob_api):
        response = api.get("/api/v1/datasets/")
        assert response.status_code == 200
        rows = response.json()["results"]
        assert {row["builtin_name"] for row in rows} == BUILTINS
        assert all(row["source"] == "builtin" and row["owner"] is None for row in rows)


@pytest.mark.django_db
def test_builtin_datasets_describe_their_shape(alice_api, iris):
    response = alice_api.get(f"/api/v1/datasets/{iris.id}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["n_rows"], body["n_features"], body["task"]) == (150, 4, "classification")


@pytest.mark.django_db
def test_diabetes_is_regression(alice_api):
    rows = alice_api.get("/api/v1/datasets/").json()["results"]
    tasks = {row["builtin_name"]: row["task"] for row in rows}
    assert tasks["diabetes"] == "regression"
    assert tasks["digits"] == "classification"


@pytest.mark.django_db
def test_builtin_datasets_are_read_only(alice_api, iris):
    assert alice_api.delete(f"/api/v1/datasets/{iris.id}/").status_code == 405
    assert alice_api.put(f"/api/v1/datasets/{iris.id}/", {}).status_code == 405


@pytest.mark.django_db
def test_missing_dataset_is_404(alice_api):
    assert alice_api.get("/api/v1/datasets/99999/").status_code == 404

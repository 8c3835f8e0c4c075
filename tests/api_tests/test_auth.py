import pytest

ENDPOINTS = [
    ("get", "/api/v1/jobs/"),
    ("post", "/api/v1/jobs/"),
    ("get", "/api/v1/jobs/1/"),
    ("post", "/api/v1/jobs/1/cancel/"),
    ("get", "/api/v1/jobs/1/trials/"),
    ("get", "/api/v1/datasets/"),
    ("get", "/api/v1/datasets/1/"),
    ("get", "/api/schema/"),
]


@pytest.mark.django_db
def test_it_issues_a_token_for_good_credentials(client, alice):
    response = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "alice-password-1"}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    jobs = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {token}")
    assert jobs.status_code == 200


@pytest.mark.django_db
def test_it_refuses_bad_credentials_with_json(client, alice):
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert "credentials" in response.json()["detail"]


@pytest.mark.django_db
def test_it_names_the_missing_field(client):
    response = client.post("/api/v1/auth/token/", {"username": "alice"})
    assert response.status_code == 400
    assert "password" in response.json()["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", ENDPOINTS)
def test_it_answers_401_without_credentials(client, method, url):
    response = getattr(client, method)(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_schema_errors_are_json_whatever_the_client_accepts(client):
    for query in ("", "?lang=zz", "?format=json"):
        response = client.get(f"/api/schema/{query}")
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated", query


@pytest.mark.django_db
def test_it_answers_401_for_a_bad_token(client):
    response = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(alice_api):
    response = alice_api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"

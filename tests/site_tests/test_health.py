import pytest


def test_healthz_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_says_which_service_is_down(client, settings, monkeypatch):
    from automl import views

    monkeypatch.setattr(views, "_check_broker", lambda: "OperationalError: connection refused")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("OperationalError")
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_schema_lists_the_v1_paths(alice_api):
    response = alice_api.get("/api/schema/")
    assert response.status_code == 200
    assert alice_api.get("/api/schema/?format=yaml").content.startswith(b"openapi:")
    paths = response.json()["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/jobs/",
        "/api/v1/jobs/{id}/",
        "/api/v1/jobs/{id}/cancel/",
        "/api/v1/jobs/{id}/trials/",
        "/api/v1/datasets/",
    ]:
        assert path in paths


@pytest.mark.django_db
def test_docs_page_asks_anonymous_users_to_sign_in(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_docs_page_works_offline_for_a_signed_in_user(client, alice):
    client.force_login(alice)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html  # assets come from us


@pytest.mark.django_db
def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"AutoML platform" in response.content


@pytest.mark.django_db
def test_home_page_walks_a_signed_in_user_from_data_to_a_deployment(client, alice, iris):
    from automl.jobs.models import Job

    for name, status in [("first search", "running"), ("next", "queued"), ("old", "failed")]:
        Job.objects.create(
            owner=alice, kind="hpo", dataset=iris, name=name, status=status, config={}
        )
    assert "Sign in" in client.get("/").content.decode()
    client.force_login(alice)
    page = client.get("/").content.decode()
    for url in (
        "/datasets/",
        "/jobs/new/hpo/",
        "/jobs/new/nas/",
        "/jobs/new/compression/",
        "/models/",
        "/deployments/",
    ):
        assert f'href="{url}"' in page, url
    assert "1 running, 1 queued" in page and "first search" in page

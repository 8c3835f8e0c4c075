"""Fixtures shared by every test: two users, their API clients, and the real services.

Tests that need Postgres and Redis ask for `real_services`: they run when DATABASE_URL
and CELERY_BROKER_URL point at them, skip otherwise, and fail instead of skipping when
AUTOML_REQUIRE_SERVICES=1 (as in CI).
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

REQUIRE_SERVICES = os.environ.get("AUTOML_REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlparse(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def missing_services() -> str | None:
    database_url = os.environ.get("DATABASE_URL", "")
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "DATABASE_URL does not point at Postgres"
    if settings.BROKER_KIND not in ("redis", "rediss"):
        return "CELERY_BROKER_URL does not point at Redis"
    if not _reachable(database_url, 5432):
        return f"Postgres at {database_url} does not answer"
    if not _reachable(settings.CELERY_BROKER_URL, 6379):
        return f"Redis at {settings.CELERY_BROKER_URL} does not answer"
    return None


@pytest.fixture
def real_services() -> None:
    reason = missing_services()
    if reason and REQUIRE_SERVICES:
        pytest.fail(f"AUTOML_REQUIRE_SERVICES=1 but {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password-1")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def iris(db):
    from automl.datasets.models import Dataset

    return Dataset.objects.get(builtin_name="iris")


@pytest.fixture(scope="session", autouse=True)
def close_study_storages(django_db_setup):
    """Close the Optuna storages' connection pools before the test database is dropped."""
    yield
    from workers.studies.storage import close_storages

    close_storages()

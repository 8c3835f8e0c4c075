"""Every shared fixture lives in tests/support/ and is registered here, once."""

import pytest
from django.test import override_settings

pytest_plugins = [
    "tests.support.factories",
    "tests.support.api",
    "tests.support.data",
    "tests.support.receiver",
    "tests.support.workers",
    "tests.support.world",
]


def pytest_collection_modifyitems(items):
    """A test that starts real worker processes or a browser is slow whatever it does:
    `./run test` leaves it out, `./run test --all` (and CI) runs it."""
    for item in items:
        if {"workers", "chromium"} & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """PBKDF2's million rounds cost 0.4 s of CPU for each user a test creates or signs in
    (two per test, often); the tests check who may sign in, not what a guess costs, so
    they hash with MD5 as Django's own testing guide advises."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def close_study_storages(django_db_setup):
    """Close the Optuna storages' connection pools before the test database is dropped."""
    yield
    from workers.studies.storage import close_storages

    close_storages()

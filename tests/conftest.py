"""Every shared fixture lives in tests/support/ and is registered here, once."""

import pytest

pytest_plugins = [
    "tests.support.factories",
    "tests.support.api",
    "tests.support.data",
    "tests.support.workers",
]


@pytest.fixture(scope="session", autouse=True)
def close_study_storages(django_db_setup):
    """Close the Optuna storages' connection pools before the test database is dropped."""
    yield
    from workers.studies.storage import close_storages

    close_storages()

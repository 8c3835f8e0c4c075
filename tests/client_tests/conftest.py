"""A real server (pytest-django's live_server) and real worker processes for the client."""

import pytest


@pytest.fixture
def analyst(django_user_model):
    return django_user_model.objects.create_user("analyst", password="analyst-password-1")


@pytest.fixture(autouse=True)
def own_config(tmp_path, monkeypatch):
    """The saved login goes to this test's folder; the machine user's never leaks in."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("AUTOML_URL", raising=False)
    monkeypatch.delenv("AUTOML_TOKEN", raising=False)

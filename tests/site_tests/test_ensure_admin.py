from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_it_generates_and_prints_a_password_once(capsys, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    # Kept where a newcomer finds it again, readable by its owner alone.
    kept = Path(settings.VAR_DIR) / "admin-password"
    assert kept.read_text().strip() == password and kept.stat().st_mode & 0o077 == 0
    assert str(kept) in out and "manage.py changepassword admin" in out
    call_command("ensure_admin")
    again = capsys.readouterr().out
    assert "password: " not in again and "manage.py changepassword admin" in again
    admin.refresh_from_db()
    assert admin.check_password(password)


@pytest.mark.django_db
def test_it_takes_the_password_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-secret-99")
    call_command("ensure_admin")
    assert "a-long-secret-99" not in capsys.readouterr().out
    assert get_user_model().objects.get(username="admin").check_password("a-long-secret-99")

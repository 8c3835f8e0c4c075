import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

RESET = "reset it with `.venv/bin/python manage.py changepassword {}`"


def password_file() -> Path:
    """Where a generated password is kept (beside the generated SECRET_KEY, owner-only):
    the line `./run up` prints scrolls away under the server's log."""
    return Path(settings.VAR_DIR) / "admin-password"


class Command(BaseCommand):
    help = (
        "Create the admin account if it does not exist. The password comes from "
        "ADMIN_PASSWORD, or is generated, printed and kept in var/admin-password."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        username = os.environ.get("ADMIN_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Admin account '{username}' exists; its password is unchanged "
                f"({RESET.format(username)})."
            )
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("ADMIN_PASSWORD"):
            self.stdout.write(f"Created admin account '{username}' (password: ADMIN_PASSWORD).")
        else:
            path = password_file()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account '{username}' with password: {password}\n"
                    f"It is kept in {path} (readable by you alone); {RESET.format(username)}."
                )
            )

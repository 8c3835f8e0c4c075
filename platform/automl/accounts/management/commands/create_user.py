import getpass
import os

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

STAFF_GROUP = "Platform staff"


def staff_group() -> Group:
    """The group `--staff` users join: every permission on the platform's own models (jobs,
    models, deployments, quotas, sign-in lockouts…), so the admin shows them; user accounts
    and groups stay with superusers. Refreshed on each call, so models added since count."""
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    ours = [app.label for app in apps.get_app_configs() if app.name.startswith("automl.")]
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=ours))
    return group


class Command(BaseCommand):
    help = (
        "Create an analyst account (not staff) that signs in at /accounts/login/. The "
        "password comes from --password-env VAR, or is asked for."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--staff",
            action="store_true",
            help=f"may also open the monitoring pages and the admin (joins {STAFF_GROUP!r})",
        )
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="read the password from this environment variable",
        )

    def handle(
        self, *args, username: str, email: str, staff: bool, password_env: str | None, **options
    ) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} exists already")
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"the environment variable {password_env} is empty or unset")
        else:
            password = getpass.getpass(f"Password for {username}: ")
            if password != getpass.getpass("Again: "):
                raise CommandError("the passwords differ")
        user = User(username=username, email=email, is_staff=staff)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        if staff:
            user.groups.add(staff_group())
        self.stdout.write(f"Created user {username!r}; sign in at /accounts/login/.")

"""Create (or update) a Postgres role that can only read the Optuna studies, and print the
storage URL to give optuna-dashboard (or `optuna.load_study`):

    python manage.py optuna_dashboard_role
    optuna-dashboard "$(python manage.py optuna_dashboard_role --url-only)"

The role reads Optuna's own tables and nothing else: no users, tokens, data sets or
models. A study's trials can be read, never changed (the dashboard's notes and its
"mark as" buttons are refused).
"""

import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

from automl.jobs import studies

# The tables Optuna's RDBStorage creates, plus Alembic's version table it checks on start.
EXTRA_TABLES = ["alembic_version"]


def optuna_tables() -> list[str]:
    import optuna
    from optuna.storages._rdb.models import BaseModel

    storage = optuna.storages.RDBStorage(studies.database_url())  # creates any missing
    storage.engine.dispose()
    return sorted(BaseModel.metadata.tables) + EXTRA_TABLES


class Command(BaseCommand):
    help = "Create a read-only Postgres role for optuna-dashboard and print its storage URL."

    def add_arguments(self, parser):
        parser.add_argument("--role", default="optuna_dashboard", help="The role's name.")
        parser.add_argument(
            "--password",
            default=None,
            help="Default: a new random one (the role's old one is replaced).",
        )
        parser.add_argument("--url-only", action="store_true", help="Print only the URL.")

    def handle(self, *args, role: str, password: str | None, url_only: bool, **options):
        if not studies.is_postgres():
            raise CommandError(
                "the studies are journal files (DATABASE_URL is not Postgres): run "
                "optuna-dashboard on one, e.g. optuna-dashboard var/studies/job-1-iris.log"
            )
        password = password or secrets.token_urlsafe(24)
        tables = optuna_tables()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            name = sql.Identifier(role)
            statements = [
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(password)),
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(connection.settings_dict["NAME"]), name
                ),
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
                sql.SQL("GRANT SELECT ON {} TO {}").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables), name
                ),
            ]
            for statement in statements:
                cursor.execute(statement.as_string(connection.connection))
        url = studies.database_url(role, password)
        if url_only:
            self.stdout.write(url)
            return
        self.stdout.write(f"Role {role!r} can read the Optuna tables ({len(tables)}) only.")
        self.stdout.write("Storage URL (keep it secret; it holds the password):")
        self.stdout.write(url)
        self.stdout.write(f'optuna-dashboard "{url}"')

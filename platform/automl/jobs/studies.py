"""Where a job's Optuna study lives: beside the platform's own data.

On Postgres the study tables sit in the same database (RDBStorage), so every worker that
reaches the database reaches the study. On the embedded default each job gets its own
Optuna journal file under var/, which several worker processes can append to safely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connections
from sqlalchemy.engine import URL

from automl.jobs.models import Job

if TYPE_CHECKING:
    from optuna.storages import BaseStorage


def study_storage(job: Job) -> BaseStorage:
    """The storage of the job's study (one per database, kept for the process's lifetime)."""
    from workers.studies.storage import make_storage  # optuna: only where studies are run

    return make_storage(storage_url(job))


def storage_url(job: Job) -> str:
    database = connections["default"].settings_dict
    if database["ENGINE"] == "django.db.backends.postgresql":
        url = URL.create(
            "postgresql+psycopg",
            username=database["USER"] or None,
            password=database["PASSWORD"] or None,
            host=database["HOST"] or None,
            port=int(database["PORT"]) if database["PORT"] else None,
            database=database["NAME"],
            # libpq options of DATABASE_URL (sslmode, application_name...) apply here too.
            query={k: str(v) for k, v in database["OPTIONS"].items() if isinstance(v, str | int)},
        )
        return url.render_as_string(hide_password=False)
    folder = settings.VAR_DIR / "studies"
    folder.mkdir(exist_ok=True)
    return f"journal:{folder / job.study_name}.log"

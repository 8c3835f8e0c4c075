"""Where a job's Optuna study lives, and how Optuna's own tools recognise it.

On Postgres the study tables sit in the same database (RDBStorage), so every worker that
reaches the database reaches the study. On the embedded default each job gets its own
Optuna journal file under var/, which several worker processes can append to safely.

A study is named after its job (`job-<id>-<slug of the job's name>`), names its metrics
(`study.metric_names`) and carries the job id, kind and owner as user attributes, so that
optuna-dashboard, `optuna.load_study` or `optuna.get_all_study_summaries` show it as the
platform does. Jobs submitted before this naming keep their `job-<uuid>` studies.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connections
from django.utils.text import slugify
from sqlalchemy.engine import URL

from automl.jobs.models import Job

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

SLUG_CHARS = 60  # study_name holds 100: "job-", the id, "-" and the slug fit


def study_storage(job: Job) -> BaseStorage:
    """The storage of the job's study (one per database, kept for the process's lifetime)."""
    from workers.studies.storage import make_storage  # optuna: only where studies are run

    return make_storage(storage_url(job))


def is_postgres() -> bool:
    return connections["default"].settings_dict["ENGINE"] == "django.db.backends.postgresql"


def storage_kind() -> str:
    """What the job API shows as `study_storage`: `postgresql` or `journal`."""
    return "postgresql" if is_postgres() else "journal"


def database_url(username: str | None = None, password: str | None = None) -> str:
    """The platform's Postgres database as an SQLAlchemy URL (psycopg 3), as the platform's
    own user or as `username`."""
    database = connections["default"].settings_dict
    url = URL.create(
        "postgresql+psycopg",
        username=username or database["USER"] or None,
        password=password if username else database["PASSWORD"] or None,
        host=database["HOST"] or None,
        port=int(database["PORT"]) if database["PORT"] else None,
        database=database["NAME"],
        # libpq options of DATABASE_URL (sslmode, application_name...) apply here too.
        query={k: str(v) for k, v in database["OPTIONS"].items() if isinstance(v, str | int)},
    )
    return url.render_as_string(hide_password=False)


def journal_path(job: Job):
    folder = settings.VAR_DIR / "studies"
    folder.mkdir(exist_ok=True)
    return folder / f"{job.study_name}.log"


def storage_url(job: Job) -> str:
    return database_url() if is_postgres() else f"journal:{journal_path(job)}"


def name_for(job: Job) -> str:
    """`job-<id>-<slug>`: unique (the id), and readable in Optuna's tools (the name)."""
    slug = slugify(job.name)[:SLUG_CHARS].strip("-")
    return f"job-{job.id}-{slug}" if slug else f"job-{job.id}"


def name_new_job(job: Job) -> None:
    """Give a just-created job its study name. A journal file of that name can only be
    left from an earlier database (ids start again when it is recreated): it is removed,
    or the new job would resume the old study."""
    job.study_name = name_for(job)
    job.save(update_fields=["study_name"])
    if not is_postgres():
        journal_path(job).unlink(missing_ok=True)


def label(job: Job, storage, metric_names: list[str]) -> None:
    """Name the study's metrics and record its job as user attributes (call it where the
    study is created; it is idempotent)."""
    import optuna

    study = optuna.load_study(study_name=job.study_name, storage=storage)
    if len(metric_names) == len(study.directions):
        with warnings.catch_warnings():  # set_metric_names is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(metric_names)
    study.set_user_attr("job_id", job.id)
    study.set_user_attr("job_kind", job.kind)
    study.set_user_attr("owner", job.owner.get_username())

"""Studies that Optuna's own tools read cleanly: named after the job, metric names, the job
as user attributes, and a read-only Postgres role for optuna-dashboard."""

import io
import uuid

import optuna
import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from optuna.storages import RDBStorage
from sqlalchemy.engine import make_url

from automl.jobs import kinds
from automl.jobs.models import Job
from automl.jobs.studies import database_url, storage_url

pytestmark = pytest.mark.django_db(transaction=True)

SPACE = {"n_estimators": {"type": "int", "low": 5, "high": 20}}


def submit(api, dataset, name, **config):
    body = {"kind": "hpo", "name": name, "dataset": dataset.id, "config": config}
    response = api.post("/api/v1/jobs/", body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_study_is_named_after_its_job_and_labelled(real_services, alice, alice_api, iris):
    body = submit(
        alice_api,
        iris,
        "Iris: forests, 2nd try!",
        model="random_forest",
        metric=["accuracy", "n_params"],
        search_space=SPACE,
    )
    assert body["study_name"] == f"job-{body['id']}-iris-forests-2nd-try"
    assert body["study_storage"] == "postgresql"

    job = Job.objects.get(id=body["id"])
    assert kinds.get("hpo").start(job) == 1  # creates the study; the runner is not sent
    storage = RDBStorage(storage_url(job))
    study = optuna.load_study(study_name=job.study_name, storage=storage)
    assert study.metric_names == ["accuracy", "n_params"]
    assert study.user_attrs == {"job_id": job.id, "job_kind": "hpo", "owner": "alice"}
    storage.engine.dispose()
    unnamed = submit(alice_api, iris, "???", model="random_forest", search_space=SPACE)
    assert unnamed["study_name"] == f"job-{unnamed['id']}"


def test_the_dashboard_role_reads_the_studies_and_nothing_else(real_services, alice):
    role = f"optuna_ro_{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    try:
        call_command("optuna_dashboard_role", "--role", role, "--url-only", stdout=out)
        url = make_url(out.getvalue().strip())
        assert url.username == role
        name = f"job-1-{role}"
        platform = RDBStorage(database_url())
        optuna.create_study(study_name=name, storage=platform)
        platform.engine.dispose()
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as db:
            assert (name,) in db.execute("SELECT study_name FROM studies").fetchall()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute("SELECT key FROM authtoken_token")
            db.rollback()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute("DELETE FROM studies")
        # Optuna itself reads the study through the role, as optuna-dashboard does
        reader = RDBStorage(out.getvalue().strip())
        assert name in [s.study_name for s in optuna.get_all_study_summaries(storage=reader)]
        reader.engine.dispose()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE IF EXISTS "{role}"')

"""The worker's Postgres connections are cut mid-job (pg_terminate_backend from another
connection, as a database failover or an idle-session killer would): the job ends, with
its trials written, instead of hanging with a dead connection."""

import psycopg
import pytest
from django.db import connection

from automl.jobs.models import Trial
from tests.support.workers import WORKER_APP, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def cut_worker_connections() -> int:
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        dbname=s["NAME"],
        autocommit=True,
    ) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database()"
            " AND application_name = %s",
            [WORKER_APP],
        ).fetchall()
    return len(rows)


def test_a_job_survives_its_database_connections_being_cut(workers, api):
    workers.start("w1")
    config = {
        "model": "mlp",
        "n_trials": 4,
        "sampler": {"name": "random", "seed": 0},
        "search_space": {"epochs": {"type": "fixed", "value": 30}},
    }
    job = api.submit("hpo", "iris", config)
    trials = Trial.objects.filter(job_id=job["id"])
    wait_for(
        lambda: (
            trials.filter(state="complete").exists() and trials.filter(state="running").exists()
        ),
        90,
        "a trial done and one running",
    )

    assert cut_worker_connections() >= 1

    job = api.wait_finished(job["id"], timeout_s=240)
    assert job["status"] == "succeeded", job["error_message"]
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert {t.state for t in trials} == {"complete"}, [t.error for t in trials if t.error]

"""bench/load.py at a small size, on real Postgres and Redis: concurrent job submissions and
predictions through a live server, no error, and every record in the database (a Job row
per submission and a broker message per job the scheduler sent, a PredictionLog row per
prediction)."""

import pytest
from django.db import connections

from automl.celery import app as celery_app
from bench import load

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_concurrent_submissions_and_predictions_lose_nothing(
    real_services,
    live_server,
    tmp_path,
    model_store,
    monkeypatch,
):
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setattr("django.conf.settings.SERVING_LOG_PRUNE_EVERY", 10**6)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")
    setup = load.set_up(tmp_path)

    result = load.run(live_server.url, setup, jobs=20, n_predictions=100, concurrency=8)

    assert load.report(result) == []
    assert result["counts"]["Job rows"] == 20
    # No worker is live: the scheduler sends JOB_DISPATCH_AHEAD and holds the rest.
    assert result["counts"]["jobs sent"] == result["counts"]["run_job messages"] == 2
    assert result["counts"]["PredictionLog rows"] == 100
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")  # no worker will ever run these jobs

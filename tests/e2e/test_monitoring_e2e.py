"""Monitoring against the real services: queue depths read from Redis, and the heartbeat of
a live Celery worker process, through the staff API and /metrics."""

import pytest
import redis
import requests

from automl.celery import app as celery_app
from tests.support.api import Api
from tests.support.workers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ops_api(live_server, django_user_model) -> Api:
    """A staff member's client on the live server."""
    django_user_model.objects.create_user("ops", password="ops-password-1", is_staff=True)
    return Api.sign_in(live_server.url, "ops", "ops-password-1")


def test_queue_depth_and_worker_heartbeat_are_real(workers, ops_api, live_server, settings):
    settings.METRICS_TOKEN = "scrape-token"
    proc = workers.start("mon1", WORKER_HEARTBEAT_S="1")

    def beating():
        listed = ops_api.get("/api/v1/monitoring/workers/")["workers"]
        return next((w for w in listed if w["name"].startswith("mon1@") and w["alive"]), None)

    worker = wait_for(beating, 60, "the worker listed alive")
    assert worker["pid"] == proc.pid  # the worker's main process, not a stand-in
    assert worker["queues"] == ["cpu"] and worker["concurrency"] == 1
    assert worker["device"] and worker["cpu_count"] >= 1
    assert worker["rss_bytes"] > 10 * 2**20 and worker["memory_total"] > worker["rss_bytes"]
    first = worker["last_seen"]
    wait_for(lambda: beating()["last_seen"] != first, 15, "a newer heartbeat")

    # Messages for a queue no worker consumes stay in Redis: the depth is read from there.
    client = redis.Redis.from_url(celery_app.conf.broker_url)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")
    try:
        for _ in range(5):
            celery_app.send_task("automl.reconcile_jobs", queue="gpu")
        assert client.llen("gpu") == 5
        queues = ops_api.get("/api/v1/monitoring/queues/")
        assert queues["queues"]["gpu"] == 5 and queues["housekeeping"]["gpu"] == 5
        overview = ops_api.get("/api/v1/monitoring/")
        assert overview["queues"]["gpu"] == 5 and overview["workers"]
        scraped = requests.get(
            live_server.url + "/metrics",
            timeout=10,
            headers={"Authorization": "Bearer scrape-token"},
        )
        assert scraped.status_code == 200
        text = scraped.text
        assert 'automl_queue_depth{queue="gpu"} 5.0' in text
        assert f'automl_worker_up{{worker="{worker["name"]}"}} 1.0' in text
    finally:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge("gpu")
    assert ops_api.get("/api/v1/monitoring/queues/")["queues"]["gpu"] == 0

    workers.stop_all()  # a stopped worker says so at once
    listed = ops_api.get("/api/v1/monitoring/workers/")["workers"]
    stopped = next(w for w in listed if w["name"] == worker["name"])
    assert not stopped["alive"] and stopped["stopped_at"]

"""Monitoring against the real services: queue depths read from Redis, and the heartbeat of
a live Celery worker process, through the staff API and /metrics."""

import time

import pytest
import redis
import requests

from automl.celery import app as celery_app
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_api(live_server, django_user_model) -> Api:
    django_user_model.objects.create_user("ops", password="ops-password-1", is_staff=True)
    response = requests.post(
        live_server.url + "/api/v1/auth/token/",
        json={"username": "ops", "password": "ops-password-1"},
        timeout=10,
    )
    return Api(live_server.url, response.json()["token"])


def wait_for(check, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.5)
    raise AssertionError(f"not true after {timeout_s}s")


def test_queue_depth_and_worker_heartbeat_are_real(workers, staff_api, live_server, settings):
    settings.METRICS_TOKEN = "scrape-token"
    proc = workers.start("mon1", WORKER_HEARTBEAT_S="1")

    def beating():
        listed = staff_api.get("/api/v1/monitoring/workers/")["workers"]
        return next((w for w in listed if w["name"].startswith("mon1@") and w["alive"]), None)

    worker = wait_for(beating)
    assert worker["pid"] == proc.pid  # the worker's main process, not a stand-in
    assert worker["queues"] == ["cpu"] and worker["concurrency"] == 1
    assert worker["device"] and worker["cpu_count"] >= 1
    assert worker["rss_bytes"] > 10 * 2**20 and worker["memory_total"] > worker["rss_bytes"]
    first = worker["last_seen"]
    assert wait_for(lambda: beating()["last_seen"] != first, 15)  # it keeps beating

    # Messages for a queue no worker consumes stay in Redis: the depth is read from there.
    client = redis.Redis.from_url(celery_app.conf.broker_url)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")
    try:
        for _ in range(5):
            celery_app.send_task("automl.reconcile_jobs", queue="gpu")
        assert client.llen("gpu") == 5
        assert staff_api.get("/api/v1/monitoring/queues/")["queues"]["gpu"] == 5
        overview = staff_api.get("/api/v1/monitoring/")
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
    assert staff_api.get("/api/v1/monitoring/queues/")["queues"]["gpu"] == 0

    workers.stop_all()  # a stopped worker says so at once
    listed = staff_api.get("/api/v1/monitoring/workers/")["workers"]
    stopped = next(w for w in listed if w["name"] == worker["name"])
    assert not stopped["alive"] and stopped["stopped_at"]

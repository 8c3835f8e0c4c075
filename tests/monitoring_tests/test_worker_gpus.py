"""A worker's heartbeat says which GPUs it declared and how many each of its jobs gets;
the staff dashboard and the workers API show it."""

import pytest
from django.utils import timezone

from automl.monitoring.models import WorkerHeartbeat
from automl.monitoring.workerbeat import Sampler
from tests.support.api import browser_for

pytestmark = pytest.mark.django_db


def test_the_heartbeat_shows_the_gpus_each_job_gets(monkeypatch, staff, staff_api):
    monkeypatch.setenv("AUTOML_WORKER_GPUS", "0,1,2,3")
    info = Sampler(concurrency=2).info()
    assert info["declared_gpus"] == ["0", "1", "2", "3"] and info["gpus_per_child"] == 2
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        name="gpu@box", host="box", pid=1, queues=["gpu"], info=info, started_at=now, last_seen=now
    )
    page = browser_for(staff).get("/monitoring/").content.decode()
    assert "2 GPUs per job" in page
    workers = staff_api.get("/api/v1/monitoring/workers/").json()["workers"]
    assert workers[0]["gpus_per_child"] == 2
    monkeypatch.delenv("AUTOML_WORKER_GPUS")
    assert Sampler(concurrency=2).info()["declared_gpus"] == []

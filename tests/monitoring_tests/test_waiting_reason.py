"""A job queued for a kind of worker that is not online says so on its page."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from automl.jobs.models import Job
from automl.monitoring.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def beat(name: str, queues: list[str], seconds_ago: float = 0) -> WorkerHeartbeat:
    seen = timezone.now() - timedelta(seconds=seconds_ago)
    return WorkerHeartbeat.objects.create(
        name=name, host="h", pid=1, queues=queues, started_at=seen, last_seen=seen
    )


def test_a_gpu_job_without_a_live_gpu_worker_says_why(alice, iris, settings):
    job = Job.objects.create(
        owner=alice,
        kind="hpo",
        dataset=iris,
        name="on gpu",
        config={"task": "classification"},
        resources={"device": "cuda"},
        queue="gpu",
    )
    client = Client()
    client.force_login(alice)
    beat("cpu@a", ["cpu"])
    beat("gpu@old", ["gpu"], seconds_ago=10 * settings.WORKER_HEARTBEAT_S)  # long gone
    page = client.get(f"/jobs/{job.id}/").content.decode()
    assert 'id="job-waiting"' in page and "No GPU worker is online" in page
    beat("gpu@b", ["gpu", "cpu"])
    page = client.get(f"/jobs/{job.id}/").content.decode()
    assert "No GPU worker is online" not in page and "waiting for a free worker" in page
    Job.objects.filter(id=job.id).update(status="running")
    WorkerHeartbeat.objects.filter(name="gpu@b").delete()
    assert 'id="job-waiting"' not in client.get(f"/jobs/{job.id}/").content.decode()

from datetime import timedelta

import pytest
from django.utils import timezone

from automl.celery import app as celery_app
from automl.jobs.models import Job
from automl.jobs.services import reconcile
from tests.support.factories import make_job

pytestmark = pytest.mark.django_db


def messages_in(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=False).message_count


@pytest.fixture
def empty_queue():
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")
    yield
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("cpu")


def test_old_queued_jobs_are_sent_again_and_fresh_ones_are_not(alice, iris, empty_queue):
    old = make_job(alice, iris)
    Job.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(minutes=5))
    make_job(alice, iris)  # just submitted: its message is surely still on its way
    assert reconcile(queued_after_s=120, stale_after_s=300) == {"requeued": 1, "resumed": 0}
    assert messages_in("cpu") == 1


def test_a_running_job_with_no_live_runner_gets_a_new_one(alice, iris, empty_queue):
    silent = make_job(
        alice, iris, status="running", heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    make_job(alice, iris, status="running", heartbeat_at=timezone.now())
    make_job(alice, iris, status="succeeded", heartbeat_at=timezone.now() - timedelta(days=1))
    assert reconcile(queued_after_s=120, stale_after_s=300) == {"requeued": 0, "resumed": 1}
    assert messages_in("cpu") == 1
    # The next pass does not pile up runners on the same job.
    assert reconcile(queued_after_s=120, stale_after_s=300)["resumed"] == 0
    silent.refresh_from_db()
    assert silent.heartbeat_at > timezone.now() - timedelta(minutes=1)

from datetime import timedelta

import pytest
from django.utils import timezone

from automl.celery import app as celery_app
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


def test_jobs_sent_long_ago_are_sent_again_and_held_ones_dispatched_at_their_turn(
    alice, iris, empty_queue, settings
):
    now = timezone.now()
    make_job(alice, iris, dispatched_at=now - timedelta(minutes=5))  # its message was lost
    make_job(alice, iris, dispatched_at=now)  # just sent: surely still on its way
    held = make_job(alice, iris)  # held back by the scheduler: not the broker's to lose
    # No worker is live: the broker may hold JOB_DISPATCH_AHEAD (2) jobs, and holds them.
    passed = reconcile(queued_after_s=120, stale_after_s=300)
    assert passed == {"requeued": 1, "resumed": 0, "dispatched": 0}
    assert messages_in("cpu") == 1
    settings.JOB_DISPATCH_AHEAD = 3
    passed = reconcile(queued_after_s=120, stale_after_s=300)
    assert passed == {"requeued": 0, "resumed": 0, "dispatched": 1}  # resent once a period
    held.refresh_from_db()
    assert held.dispatched_at is not None


def test_a_running_job_with_no_live_runner_gets_a_new_one(alice, iris, empty_queue):
    silent = make_job(
        alice, iris, status="running", heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    make_job(alice, iris, status="running", heartbeat_at=timezone.now())
    make_job(alice, iris, status="succeeded", heartbeat_at=timezone.now() - timedelta(days=1))
    passed = reconcile(queued_after_s=120, stale_after_s=300)
    assert passed == {"requeued": 0, "resumed": 1, "dispatched": 0}
    assert messages_in("cpu") == 1
    # The next pass does not pile up runners on the same job.
    assert reconcile(queued_after_s=120, stale_after_s=300)["resumed"] == 0
    silent.refresh_from_db()
    assert silent.heartbeat_at > timezone.now() - timedelta(minutes=1)

import pytest
from kombu.exceptions import OperationalError

from automl.jobs import tasks
from automl.jobs.services import submit_job

pytestmark = pytest.mark.django_db


def test_a_job_the_broker_cannot_take_stays_queued_for_the_reconciler(
    alice, iris, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def no_broker(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_job, "apply_async", no_broker)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = submit_job(alice, kind="hpo", name="j", dataset=iris, config={}, resources={})
    assert len(callbacks) == 2  # the scheduler's pass, then its send
    job.refresh_from_db()
    assert job.status == "queued" and job.dispatched_at is not None
    assert f"automl.run_job({job.id},) not sent" in caplog.text

import pytest
from kombu.exceptions import OperationalError

from automl.jobs import tasks
from automl.jobs.models import Job
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
    assert len(callbacks) == 1
    assert Job.objects.get(id=job.id).status == "queued"
    assert f"automl.run_job({job.id},) not sent" in caplog.text

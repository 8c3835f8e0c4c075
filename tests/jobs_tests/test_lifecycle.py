from datetime import timedelta

import pytest
from django.utils import timezone

from automl.jobs import lifecycle
from automl.jobs.models import Job, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice, iris):
    return Job.objects.create(owner=alice, kind="hpo", name="j", dataset=iris, config={})


def status(job) -> str:
    job.refresh_from_db()
    return job.status


def test_the_happy_path(job):
    assert lifecycle.transition(job.id, "running")
    assert lifecycle.transition(job.id, "succeeded")
    job.refresh_from_db()
    assert job.progress == 1.0 and job.started_at and job.finished_at


@pytest.mark.parametrize(
    "path",
    [
        ["succeeded"],  # queued cannot succeed without running
        ["running", "queued"],
        ["cancelled", "running"],
        ["running", "failed", "succeeded"],
        ["running", "succeeded", "cancelled"],
        ["running", "paused", "running"],  # a paused job resumes through the queue
    ],
)
def test_it_refuses_every_other_change(job, path):
    *allowed, refused = path
    for step in allowed:
        assert lifecycle.transition(job.id, step)
    before = status(job)
    assert not lifecycle.transition(job.id, refused)
    assert status(job) == before


def test_a_status_nothing_moves_to_is_an_error(job):
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.transition(job.id, "archived")


def test_a_job_is_claimed_once(job):
    assert lifecycle.claim(job.id, "host-a", {})
    assert not lifecycle.claim(job.id, "host-b", {})  # the second delivery does nothing
    job.refresh_from_db()
    assert (job.status, job.worker_host, job.attempts) == ("running", "host-a", 1)


def test_a_silent_workers_job_is_taken_over_and_its_running_trials_fail(job, settings):
    assert lifecycle.claim(job.id, "host-a", {})
    Trial.objects.create(job=job, number=0, state="complete", values=[0.9])
    Trial.objects.create(job=job, number=1, state="running")
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 1)
    Job.objects.filter(id=job.id).update(heartbeat_at=stale)
    assert lifecycle.claim(job.id, "host-b", {})
    job.refresh_from_db()
    assert (job.worker_host, job.attempts) == ("host-b", 2)
    states = dict(Trial.objects.filter(job=job).values_list("number", "state"))
    assert states == {0: "complete", 1: "failed"}


def test_finished_jobs_are_never_claimed(job):
    assert lifecycle.transition(job.id, "cancelled")
    assert not lifecycle.claim(job.id, "host-a", {})


def test_cancel_finished_job_is_refused(job):
    lifecycle.transition(job.id, "running")
    lifecycle.transition(job.id, "failed", error_message="boom")
    assert not lifecycle.request_cancel(job)
    assert status(job) == "failed"

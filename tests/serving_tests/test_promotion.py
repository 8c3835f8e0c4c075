"""Promoting a version while a deployment serves the previous production version, and
rolling the deployment back afterwards, all through the API."""

import pytest

from tests.support.factories import FEATURES, forest_dir, register

pytestmark = pytest.mark.django_db

ROW = dict.fromkeys(FEATURES, 1.0)


@pytest.fixture
def canary(alice, alice_api, tmp_path, model_store):
    """v1 in production taking 90 % of the traffic, v2 a 10 % canary."""
    v1 = register(alice, forest_dir(tmp_path / "v1"), name="iris")
    v2 = register(alice, forest_dir(tmp_path / "v2"), name="iris")
    assert stage(alice_api, v1.id, "production").status_code == 200
    body = {"name": "live", "model_name": "iris", "routes": [{"version": v1.id, "weight": 1}]}
    deployment = alice_api.post("/api/v1/deployments/", body, format="json").json()
    routes = [{"version": v1.id, "weight": 90}, {"version": v2.id, "weight": 10}]
    url = f"/api/v1/deployments/{deployment['id']}/"
    assert alice_api.patch(url, {"routes": routes}, format="json").status_code == 200
    return v1, v2, url


def stage(api, version_id, to):
    return api.post(f"/api/v1/models/{version_id}/stage/", {"stage": to}, format="json")


def predict_with(api, url, version_id):
    """The answer of a request that the split sends to `version_id` (seeds pick routes)."""
    for seed in range(200):
        response = api.post(url + "predict/", {"inputs": [ROW], "seed": seed}, format="json")
        assert response.status_code == 200, response.content
        if response.json()["version"] == version_id:
            return response.json()
    raise AssertionError(f"no seed sent a request to version {version_id}")


def test_promotion_keeps_a_version_the_traffic_still_uses_servable(alice_api, canary):
    v1, v2, url = canary
    response = stage(alice_api, v2.id, "production")
    assert response.status_code == 200 and response.json()["stage"] == "production"
    # v1 still takes 90 % of the traffic: it is demoted to staging, not archived.
    assert alice_api.get(f"/api/v1/models/{v1.id}/").json()["stage"] == "staging"
    assert predict_with(alice_api, url, v1.id)["predictions"]
    # Archiving it by hand while it is routed is still refused, naming the deployment.
    response = stage(alice_api, v1.id, "archived")
    assert response.status_code == 409 and "live" in response.json()["detail"]


def test_rollback_after_a_promotion_restores_the_split(alice_api, canary):
    v1, v2, url = canary
    only_v2 = [{"version": v2.id, "weight": 1}]
    assert alice_api.patch(url, {"routes": only_v2}, format="json").status_code == 200
    assert stage(alice_api, v2.id, "production").status_code == 200
    # No deployment routes to v1 now, but rolling back would: it stays servable.
    assert alice_api.get(f"/api/v1/models/{v1.id}/").json()["stage"] == "staging"

    response = alice_api.post(url + "rollback/")
    assert response.status_code == 200, response.content
    assert response.json()["routes"] == [
        {"version": v1.id, "weight": 90.0},
        {"version": v2.id, "weight": 10.0},
    ]
    assert predict_with(alice_api, url, v1.id)["predictions"]

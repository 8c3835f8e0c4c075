"""Registry aliases: setting and moving them over the API and the page, deployments that
follow one, the audit log, bad input and other users."""

import pytest

from automl import audit
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(alice, tmp_path, model_store):
    v1 = register(alice, forest_dir(tmp_path / "v1"), name="iris")
    v2 = register(alice, forest_dir(tmp_path / "v2", seed=1), name="iris")
    return v1, v2


def set_alias(api, version_id, alias):
    return api.post(f"/api/v1/models/{version_id}/aliases/", {"alias": alias}, format="json")


def test_it_sets_and_moves_an_alias(alice_api, two):
    v1, v2 = two
    response = set_alias(alice_api, v1.id, "champion")
    assert response.status_code == 200 and response.json()["aliases"] == ["champion"]
    assert set_alias(alice_api, v2.id, "champion").json()["aliases"] == ["champion"]
    assert alice_api.get(f"/api/v1/models/{v1.id}/").json()["aliases"] == []
    found = alice_api.get("/api/v1/models/", {"alias": "champion"}).json()["results"]
    assert [v["id"] for v in found] == [v2.id]
    # Both moves are on the versions' audit logs, with who made them.
    changes = [row["changes"] for row in audit.rows(v1)]
    assert [("alias champion", 1, None)] in changes


def test_it_refuses_bad_alias_names(alice_api, two):
    for bad in ["", "7", "Champion", "a b", "x" * 51]:
        response = set_alias(alice_api, two[0].id, bad)
        assert response.status_code == 400, bad
        assert "alias" in response.json()["fields"], response.json()


def test_another_users_version_is_a_404(bob_api, two):
    assert set_alias(bob_api, two[0].id, "champion").status_code == 404
    assert bob_api.delete(f"/api/v1/models/{two[0].id}/aliases/champion/").status_code == 404


def deploy(api, body):
    return api.post("/api/v1/deployments/", body, format="json")


def test_a_deployment_following_an_alias_is_rerouted_when_it_moves(alice_api, two):
    v1, v2 = two
    set_alias(alice_api, v1.id, "champion")
    response = deploy(alice_api, {"name": "live", "model_name": "iris", "follows": "champion"})
    assert response.status_code == 201, response.content
    deployment = response.json()
    assert deployment["follows"] == "champion"
    assert deployment["routes"] == [{"version": v1.id, "weight": 100.0}]
    url = f"/api/v1/deployments/{deployment['id']}/"
    # A 10 % canary on v2, then v2 becomes the champion: the whole traffic is v2's.
    canary = [{"version": v1.id, "weight": 90}, {"version": v2.id, "weight": 10}]
    assert alice_api.patch(url, {"routes": canary}, format="json").status_code == 200
    assert set_alias(alice_api, v2.id, "champion").status_code == 200
    assert alice_api.get(url).json()["routes"] == [{"version": v2.id, "weight": 100.0}]
    # The move is a traffic change like any other: it can be rolled back.
    assert alice_api.post(url + "rollback/").json()["routes"] == [
        {"version": v1.id, "weight": 90.0},
        {"version": v2.id, "weight": 10.0},
    ]
    # A followed alias cannot be removed.
    response = alice_api.delete(f"/api/v1/models/{v2.id}/aliases/champion/")
    assert response.status_code == 409 and "live" in response.json()["detail"]


def test_following_needs_an_alias_whose_version_takes_traffic(alice_api, two):
    v1, v2 = two
    body = {"name": "live", "model_name": "iris", "follows": "champion"}
    response = deploy(alice_api, body)
    assert response.status_code == 400 and "follows" in response.json()["fields"]
    set_alias(alice_api, v1.id, "champion")
    response = deploy(alice_api, {**body, "routes": [{"version": v2.id, "weight": 1}]})
    assert response.status_code == 400 and "follows" in response.json()["fields"]


def test_a_move_to_a_version_a_follower_cannot_serve_is_refused(alice_api, alice, two):
    v1, v2 = two
    set_alias(alice_api, v1.id, "champion")
    deploy(alice_api, {"name": "live", "model_name": "iris", "follows": "champion"})
    alice_api.post(f"/api/v1/models/{v2.id}/stage/", {"stage": "archived"}, format="json")
    response = set_alias(alice_api, v2.id, "champion")
    assert response.status_code == 409 and "live" in response.json()["detail"]
    assert alice_api.get(f"/api/v1/models/{v1.id}/").json()["aliases"] == ["champion"]


def test_the_model_page_shows_and_sets_aliases(alice_browser, two):
    v1, v2 = two
    page = f"/models/{v1.id}/"
    response = alice_browser.post(f"/models/{v1.id}/alias/", {"alias": "challenger"})
    assert response.status_code == 302
    assert "@challenger" in alice_browser.get(page).content.decode()
    response = alice_browser.post(f"/models/{v1.id}/alias/", {"alias": "Bad Name"}, follow=True)
    assert "not an alias name" in response.content.decode()
    alice_browser.post(f"/models/{v1.id}/alias/", {"alias": "challenger", "remove": "1"})
    assert "no aliases yet" in alice_browser.get(page).content.decode()

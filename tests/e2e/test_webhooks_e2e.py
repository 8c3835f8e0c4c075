"""Registry webhooks through a real worker (Postgres, Redis): events reach a local HTTP
server signed with the subscription's secret, a refused delivery is retried by Celery
after its backoff, and the delivery log says so."""

import json

import pytest

from tests.registry_tests.test_webhooks import signed_by
from tests.support.factories import forest_dir, register

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_webhooks_are_received_signed_and_retried(
    workers, api, receiver, tmp_path, django_user_model
):
    owner = django_user_model.objects.get(username="analyst")
    workers.start(WEBHOOK_RETRY_BASE_S="0.5")
    receiver.statuses = [503]  # the first POST is refused: Celery retries it
    hook = api.post(
        "/api/v1/webhooks/", {"url": receiver.url, "events": ["alias_moved", "deployment_changed"]}
    )
    version = register(owner, forest_dir(tmp_path / "m"), name="iris")
    api.post(f"/api/v1/models/{version.id}/aliases/", {"alias": "champion"}, expect=200)
    api.post("/api/v1/deployments/", {"name": "live", "model_name": "iris", "follows": "champion"})
    received = receiver.wait_for(3)

    assert all(signed_by(hook["secret"], r) for r in received)
    bodies = [json.loads(r["body"]) for r in received]
    assert {b["event"] for b in bodies} == {"alias_moved", "deployment_changed"}
    assert [r["answered"] for r in received].count(503) == 1
    log = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/")["results"]
    assert sorted(d["attempts"] for d in log) == [1, 2]
    assert {d["status"] for d in log} == {"delivered"}

"""Registry webhooks: subscriptions over the API and the page, events on a real local
HTTP server with valid HMAC-SHA256 signatures, retries, the delivery log, other users."""

import hashlib
import hmac
import json

import pytest

from automl.registry.models import WebhookDelivery
from automl.registry.tasks import deliver_webhook
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db


def subscribe(api, url, events=("alias_moved", "stage_moved", "version_registered")):
    return api.post("/api/v1/webhooks/", {"url": url, "events": list(events)}, format="json")


def signed_by(secret: str, received: dict) -> bool:
    headers = {k.lower(): v for k, v in received["headers"].items()}
    message = headers["x-automl-timestamp"].encode() + b"." + received["body"]
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-automl-signature"])


def deliver_all():
    """What a worker does with the delivery messages (eager: retries run at once)."""
    for delivery in WebhookDelivery.objects.filter(status="pending").order_by("id"):
        deliver_webhook.apply((delivery.id,))


def test_it_signs_what_happens_to_your_models(
    alice, alice_api, receiver, tmp_path, model_store, django_capture_on_commit_callbacks
):
    created = subscribe(alice_api, receiver.url)
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert "secret" not in alice_api.get("/api/v1/webhooks/").json()["results"][0]
    with django_capture_on_commit_callbacks():  # the worker's part is done below
        version = register(alice, forest_dir(tmp_path / "m"), name="iris")
        alice_api.post(f"/api/v1/models/{version.id}/aliases/", {"alias": "champion"})
        alice_api.post(f"/api/v1/models/{version.id}/stage/", {"stage": "staging"})
    deliver_all()
    received = receiver.wait_for(3)
    events = [json.loads(r["body"])["event"] for r in received]
    assert events == ["version_registered", "alias_moved", "stage_moved"]
    assert all(signed_by(secret, r) for r in received)
    assert not signed_by("another secret", received[0])
    alias = json.loads(received[1]["body"])
    assert alias["alias"] == "champion" and alias["version_id"] == version.id
    log = alice_api.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries/").json()
    assert {d["status"] for d in log["results"]} == {"delivered"}


def test_a_failed_delivery_is_retried_until_it_is_answered(
    alice, alice_api, receiver, tmp_path, model_store, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [503, 500]
    subscribe(alice_api, receiver.url, ["version_registered"])
    register(alice, forest_dir(tmp_path / "m"), name="iris")
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert [r["answered"] for r in receiver.received] == [503, 500, 200]
    ids = {r["headers"]["X-AutoML-Delivery"] for r in receiver.received}
    assert ids == {str(delivery.id)}, "one delivery id however often it is sent"


def test_it_gives_up_after_the_last_attempt(
    alice, alice_api, receiver, tmp_path, model_store, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500, 500, 500]
    subscribe(alice_api, receiver.url, ["version_registered"])
    register(alice, forest_dir(tmp_path / "m"), name="iris")
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 2, "answered 500")


def test_events_it_did_not_ask_for_and_other_users_events_are_not_sent(
    alice, bob, alice_api, receiver, tmp_path, model_store
):
    subscribe(alice_api, receiver.url, ["drift_alert"])
    register(alice, forest_dir(tmp_path / "a"), name="iris")
    register(bob, forest_dir(tmp_path / "b"), name="iris")
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://x", "events": ["alias_moved"]}, "url"),
        ({"url": "http://x", "events": []}, "events"),
        ({"url": "http://x", "events": ["everything"]}, "events"),
        ({"url": "http://x"}, "events"),
        ({"url": "http://x", "events": [["alias_moved"]]}, "events"),  # fuzz: was a 500
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field(alice_api, body, field):
    response = alice_api.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"], response.json()


def test_another_users_webhook_is_a_404(alice_api, bob_api, receiver):
    hook = subscribe(alice_api, receiver.url).json()["id"]
    for call in (bob_api.get, bob_api.delete):
        assert call(f"/api/v1/webhooks/{hook}/").status_code == 404
    assert bob_api.get(f"/api/v1/webhooks/{hook}/deliveries/").status_code == 404
    assert bob_api.get("/api/v1/webhooks/").json()["results"] == []


def test_the_page_subscribes_and_shows_the_log(alice_browser, receiver):
    response = alice_browser.post(
        "/models/webhooks/", {"url": receiver.url, "events": ["alias_moved"]}, follow=True
    )
    page = response.content.decode()
    assert "signing secret (shown only now)" in page and receiver.url in page
    from automl.registry.models import Webhook

    hook = Webhook.objects.get()
    assert hook.secret in page
    detail = alice_browser.get(f"/models/webhooks/{hook.id}/").content.decode()
    assert 'id="deliveries"' in detail and "nothing sent yet" in detail
    alice_browser.post(f"/models/webhooks/{hook.id}/", {"active": "0"})
    hook.refresh_from_db()
    assert not hook.active

"""Registry webhooks: a user's subscriptions to what happens to their models and
deployments, delivered as signed JSON POSTs with retries, and a delivery log.

Events (EVENTS): a version registered, a version's stage moved, an alias set or moved, a
deployment's traffic changed, a drift alert opened, a monitoring policy acted (an entry of
the deployment's activity log). `emit()` stores one WebhookDelivery per subscription that
wants the event and, once the change is committed, sends the delivery task
(automl.registry.tasks.deliver_webhook), so a change rolled back announces nothing and the
web request never waits for a receiver.

Each POST carries
    X-AutoML-Event: <event>         X-AutoML-Delivery: <delivery id>
    X-AutoML-Timestamp: <unix s>    X-AutoML-Signature: sha256=<hex>
where the signature is HMAC-SHA256, keyed by the subscription's secret, of
"<timestamp>.<body>": a receiver recomputes it (`signature()`) and compares with
hmac.compare_digest, and refuses an old timestamp to stop replays. A delivery that gets no
2xx answer is retried by Celery after WEBHOOK_RETRY_BASE_S, then twice as long, up to
WEBHOOK_MAX_ATTEMPTS attempts; the receiver may see an event twice (at least once), and
the delivery id tells them apart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automl.errors import Invalid
from automl.registry.models import Webhook, WebhookDelivery

VERSION_REGISTERED = "version_registered"
STAGE_MOVED = "stage_moved"
ALIAS_MOVED = "alias_moved"
DEPLOYMENT_CHANGED = "deployment_changed"
DRIFT_ALERT = "drift_alert"
MONITORING_ACTION = "monitoring_action"
EVENTS = {
    VERSION_REGISTERED: "a new model version is in the registry",
    STAGE_MOVED: "a version moved to another stage",
    ALIAS_MOVED: "an alias was set on a version or moved to it",
    DEPLOYMENT_CHANGED: "a deployment was created or its traffic changed",
    DRIFT_ALERT: "a drift alert opened on a deployment",
    MONITORING_ACTION: "a deployment's monitoring policy acted (its activity log's entries)",
}
MAX_WEBHOOKS = 20  # per user


def subscribe(owner: Any, url: Any, events: Any) -> Webhook:
    """A new subscription (its secret made here, shown once), or Invalid naming the field."""
    errors: dict[str, list[str]] = {}
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500:
        errors["url"] = ["an http:// or https:// URL of at most 500 characters"]
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in EVENTS for e in events)
    ):
        errors["events"] = [f"a non-empty list of: {', '.join(EVENTS)}"]
    if Webhook.objects.filter(owner=owner).count() >= MAX_WEBHOOKS:
        errors["url"] = [f"you have {MAX_WEBHOOKS} webhooks already; delete one first"]
    if errors:
        raise Invalid.from_fields(errors)
    return Webhook.objects.create(
        owner=owner, url=url, events=sorted(set(events)), secret=secrets.token_hex(32)
    )


def emit(owner: Any, event: str, payload: dict) -> list[int]:
    """Announce `event` to the owner's subscriptions that want it: one delivery each, sent
    once the current transaction commits. Returns the delivery ids."""
    assert event in EVENTS, event
    body = {"event": event, "at": timezone.now().isoformat(), **payload}
    hooks = Webhook.objects.filter(owner=owner, active=True)
    ids = [
        WebhookDelivery.objects.create(webhook=hook, event=event, payload=body).id
        for hook in hooks
        if event in hook.events
    ]
    if ids:
        transaction.on_commit(lambda: _send(ids))
    return ids


def _send(ids: list[int]) -> None:
    from automl.registry.tasks import deliver_webhook

    for delivery_id in ids:
        try:
            deliver_webhook.delay(delivery_id)
        except Exception:  # the broker is down: the delivery stays pending in the log
            WebhookDelivery.objects.filter(id=delivery_id).update(error="could not be queued")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-AutoML-Signature of a body sent at `timestamp` (what a receiver recomputes)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def attempt(delivery_id: int) -> bool | None:
    """POST the delivery once. True: delivered; False: failed, worth another attempt;
    None: nothing to do (delivered already, or the webhook is gone or switched off)."""
    import httpx

    delivery = WebhookDelivery.objects.select_related("webhook").filter(id=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    hook = delivery.webhook
    if not hook.active:
        return None
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "automl-webhooks",
        "X-AutoML-Event": delivery.event,
        "X-AutoML-Delivery": str(delivery.id),
        "X-AutoML-Timestamp": timestamp,
        "X-AutoML-Signature": signature(hook.secret, timestamp, body),
    }
    status, error = None, ""
    try:
        response = httpx.post(
            hook.url, content=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_S
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"answered {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    delivered = not error
    attempts = delivery.attempts + 1
    final = delivered or attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    WebhookDelivery.objects.filter(id=delivery.id).update(
        attempts=attempts,
        response_status=status,
        error=error,
        status=(
            WebhookDelivery.Status.DELIVERED
            if delivered
            else WebhookDelivery.Status.FAILED
            if final
            else WebhookDelivery.Status.PENDING
        ),
        delivered_at=timezone.now() if delivered else None,
    )
    return True if delivered else (None if final else False)


def retry_after_s(attempts: int) -> float:
    """How long before the next attempt, after `attempts` failed ones (doubling)."""
    return settings.WEBHOOK_RETRY_BASE_S * 2 ** max(0, attempts - 1)

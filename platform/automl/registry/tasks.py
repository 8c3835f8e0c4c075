"""The registry's Celery task: delivering webhooks (automl.registry.webhooks)."""

from celery import shared_task


@shared_task(name="automl.deliver_webhook", bind=True, max_retries=None, acks_late=True)
def deliver_webhook(self, delivery_id: int) -> str:
    """POST one delivery; a failed attempt is retried after a doubling wait until the
    delivery's attempts reach WEBHOOK_MAX_ATTEMPTS (webhooks.attempt counts them)."""
    from automl.registry import webhooks
    from automl.registry.models import WebhookDelivery

    outcome = webhooks.attempt(delivery_id)
    if outcome is False:
        attempts = WebhookDelivery.objects.get(id=delivery_id).attempts
        raise self.retry(countdown=webhooks.retry_after_s(attempts))
    return {True: "delivered", None: "done"}[outcome]

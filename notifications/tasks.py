"""Celery entry points: thin wrappers around notifications.services."""

from celery import shared_task

from notifications import conf
from notifications.services import DeliveryRetry, deliveries_release, delivery_send


@shared_task(
    name="notifications.deliver", bind=True, acks_late=True, ignore_result=True,
    autoretry_for=(DeliveryRetry,), retry_backoff=True, retry_backoff_max=conf.backoff_max_seconds(),
    retry_jitter=True, max_retries=50,  # the service's NOTIFICATION_MAX_ATTEMPTS is the real bound
)
def deliver(self, delivery_id: int) -> None:
    """One attempt; a retryable failure raises DeliveryRetry and Celery retries with backoff."""
    delivery_send(delivery_id=delivery_id)


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> int:
    """Beat: release deliveries held by quiet hours, re-enqueue stale ones."""
    return deliveries_release()

"""Celery tasks of the mediators app: thin wrappers around services."""

from celery import shared_task

from mediators.services import mediator_assign_pending


@shared_task(name="mediators.assign_pending", ignore_result=True)
def assign_pending_task() -> int:
    """Retry automatic assignment on the open queue (a mediator came back, a slot freed)."""
    return mediator_assign_pending()

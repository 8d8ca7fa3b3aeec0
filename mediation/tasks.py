"""Periodic chat work (Celery beat): thin wrappers around selectors and services."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="mediation.chat_digest", ignore_result=True)
def chat_digest() -> int:
    """One batched "N unread messages" notification per (user, case). Returns how many sent."""
    from mediation.services import chat_digest_send

    return chat_digest_send()

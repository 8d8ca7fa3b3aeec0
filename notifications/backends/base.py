"""The interface a channel implements. A deployment adds SMS or Zalo OA by writing one class
and naming it in settings.NOTIFICATION_BACKENDS; nothing in the core changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Notification


class DeliveryError(Exception):
    """A send that may succeed later (timeout, 5xx, SMTP down): retried with backoff."""


class PermanentDeliveryError(DeliveryError):
    """A send that will never succeed (bad number, blocked account, 4xx): failed at once."""


class Backend:
    """One outward channel.

    - `send(notification)` delivers or raises (any exception is a failure; raise
      `PermanentDeliveryError` to stop retries). It runs in a Celery worker, outside any
      transaction; it must be safe to call twice for the same notification (a worker may die
      after sending but before recording), e.g. by passing `notification.pk` as an idempotency key.
    - `address(user)` says where it would go; None means this user cannot be reached on this
      channel and the delivery is recorded as skipped.
    - `default_events`: events that are on by default for this channel (None: all of them);
      the user's preferences override it per event.
    - `held_in_quiet_hours`: whether the user's quiet hours delay it (email, SMS: yes).
    """

    label: str = ""
    default_events: frozenset[str] | None = None
    held_in_quiet_hours: bool = True

    def __init__(self, *, name: str, **options) -> None:
        self.name = name
        self.options = options

    def address(self, user) -> str | None:
        return str(user.pk)

    def enabled_by_default(self, event: str) -> bool:
        return self.default_events is None or event in self.default_events

    def send(self, notification: Notification) -> None:  # pragma: no cover - interface
        raise NotImplementedError

"""Live push to the bell: one small group per user (`notify.user.<id>`), best effort.

The channel layer is at-most-once (STYLE.md): the Notification row is stored first, so a lost
frame costs nothing but a late bell — the client gets the unread count on every (re)connect and
reads the list from the API."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

MESSAGE_TYPE = "notify.frame"  # handled by NotificationConsumer.notify_frame


def group_name(user_id: int) -> str:
    return f"notify.user.{user_id}"


def notification_payload(notification) -> dict:
    """The shape the bell and the API share."""
    from notifications.serializers import NotificationSerializer

    return dict(NotificationSerializer(notification).data)


def push(user_id: int, frame: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(user_id), {"type": MESSAGE_TYPE, "frame": frame})
    except Exception:  # a push is a courtesy; the stored row is the truth
        log.warning("live push to user %s failed", user_id, exc_info=True)


def push_notification(notification, unread: int) -> None:
    push(notification.recipient_id, {"type": "notification",
                                     "notification": notification_payload(notification),
                                     "unread": unread})


def push_unread(user_id: int, unread: int) -> None:
    push(user_id, {"type": "unread", "count": unread})

"""Live push to the bell: one small group per user (`notify.user.<id>`), best effort.

The channel layer is at-most-once (STYLE.md): the Notification row is stored first, so a lost
frame costs nothing but a late bell — the client gets the unread count on every (re)connect and
reads the list from the API."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from functools import cache

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)

MESSAGE_TYPE = "notify.frame"  # handled by NotificationConsumer.notify_frame


def group_name(user_id: int) -> str:
    return f"notify.user.{user_id}"


@cache
def _payload_serializer():
    """One shared instance: a ModelSerializer builds its fields anew for every instance it is
    given (most of its cost), and its fields keep no state between `to_representation` calls.
    Every new notification the relay writes is pushed, so this is on its path."""
    from notifications.serializers import NotificationSerializer

    return NotificationSerializer()


def notification_payload(notification) -> dict:
    """The shape the bell and the API share."""
    return dict(_payload_serializer().to_representation(notification))


_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop for pushes from synchronous code (the event relay, Celery
    tasks), started on first use and again after a fork. `async_to_sync` there ran every push
    in a new loop, where channels_redis opened a new connection: 2 ms of CPU per push."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="odr-push", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


def push(user_id: int, frame: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "frame": frame}
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # Its queues belong to the server's own loop, which async_to_sync finds.
            async_to_sync(layer.group_send)(group_name(user_id), message)
        else:
            asyncio.run_coroutine_threadsafe(layer.group_send(group_name(user_id), message),
                                             _sender_loop()).result(timeout=10)
    except Exception:  # a push is a courtesy; the stored row is the truth
        log.warning("live push to user %s failed", user_id, exc_info=True)


def push_notification(notification, unread: int) -> None:
    push(notification.recipient_id, {"type": "notification",
                                     "notification": notification_payload(notification),
                                     "unread": unread})


def push_unread(user_id: int, unread: int) -> None:
    push(user_id, {"type": "unread", "count": unread})

"""The bell's WebSocket: `/ws/notifications/`. Server → client frames only:

- on connect: `{"type": "unread", "count": N}`
- a new notification: `{"type": "notification", "notification": {...}, "unread": N}`
- after mark-read (API): `{"type": "unread", "count": N}`

Client → server: `{"type": "ping"}` → `{"type": "pong"}` (keep-alive through proxies).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications.push import group_name
from notifications.selectors import unread_count

UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    # No class-level `groups`: the per-user group is joined only after the check (STYLE.md).
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            # Accept, then close with an application code the browser can see (a refused
            # handshake only shows as 1006).
            await self.accept()
            await self.close(code=UNAUTHENTICATED)
            return
        self.group = group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        count = await database_sync_to_async(unread_count)(user_id=user.pk)
        await self.send_json({"type": "unread", "count": count})

    async def disconnect(self, code) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def notify_frame(self, message: dict) -> None:
        await self.send_json(message["frame"])

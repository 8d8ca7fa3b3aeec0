"""One broadcast per process, delivered locally: how a case's chat events reach its sockets.

Why not the channel layer's `group_send`: it writes one copy per socket into Redis and each
ASGI process pops them back one round trip at a time, and Channels then hops every event
through the one thread-sensitive sync thread (`aclose_old_connections`) before the handler
runs. Measured here that saturated a process below 100 messages/s into rooms of 10.

Here an event is published ONCE per case: in this process it goes straight to the case's local
sockets (a queue per socket, so each socket keeps the order and a slow one cannot stall the
others); with REDIS_URL it is also PUBLISHed on the case's Redis channel, to which every other
ASGI process holding sockets of that case is subscribed (one subscription per case per process,
one connection per process). A process skips its own publications (it delivered them already).

Like the channel layer this is a best-effort live bus: the database is the record and clients
resume with `since=<seq>` after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable

from django.conf import settings

log = logging.getLogger(__name__)

ORIGIN = uuid.uuid4().hex  # this process: its own publications come back and are skipped
Sink = Callable[[dict], None]


def channel(case_id: int) -> str:
    return f"odr:chat:case:{case_id}"


def _wire(case_id: int, event: dict) -> bytes:
    return json.dumps({"o": ORIGIN, "c": case_id, "e": event}, ensure_ascii=False).encode()


class Hub:
    """The sockets of this process by case, bound to the event loop that serves them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, redis_url: str | None) -> None:
        self.loop = loop
        self.redis_url = redis_url
        self.rooms: dict[int, set[Sink]] = {}
        self._pubsub = None
        self._publisher = None
        self._listener: asyncio.Task | None = None
        self._confirmed: dict[str, asyncio.Future] = {}
        self._lock = asyncio.Lock()

    # --- sockets ------------------------------------------------------------------------------
    async def join(self, case_id: int, sink: Sink) -> None:
        """Add a socket; returns once events published from now on will reach it (the first
        socket of a case in this process waits for Redis to confirm the subscription)."""
        room = self.rooms.setdefault(case_id, set())
        room.add(sink)
        if len(room) == 1 and self.redis_url:
            async with self._lock:
                if self.rooms.get(case_id):
                    await self._subscribe(channel(case_id))

    async def leave(self, case_id: int, sink: Sink) -> None:
        room = self.rooms.get(case_id)
        if room is None:
            return
        room.discard(sink)
        if not room:
            del self.rooms[case_id]
            if self.redis_url and self._pubsub is not None:
                async with self._lock:
                    if case_id not in self.rooms:
                        with contextlib.suppress(Exception):
                            await self._pubsub.unsubscribe(channel(case_id))

    def deliver(self, case_id: int, event: dict) -> None:
        """Hand one event to each local socket of the case (on the loop, never blocks)."""
        for sink in tuple(self.rooms.get(case_id, ())):
            try:
                sink(event)
            except Exception:  # one broken socket must not starve the others
                log.exception("chat event delivery failed on case %s", case_id)

    # --- publishing ---------------------------------------------------------------------------
    async def apublish(self, case_id: int, event: dict) -> None:
        """From the event loop (presence, typing)."""
        wire = _wire(case_id, event) if self.redis_url else None
        self.deliver(case_id, event)
        if wire is not None:
            try:
                await self._redis_publisher().publish(channel(case_id), wire)
            except Exception:
                log.exception("chat publish failed for case %s", case_id)

    def _redis_publisher(self):
        if self._publisher is None:
            import redis.asyncio as aioredis

            self._publisher = aioredis.from_url(self.redis_url)
        return self._publisher

    # --- Redis subscription -------------------------------------------------------------------
    async def _subscribe(self, name: str) -> None:
        if self._pubsub is None:
            import redis.asyncio as aioredis

            self._pubsub = aioredis.from_url(self.redis_url).pubsub()
        fut = self.loop.create_future()
        self._confirmed[name] = fut
        await self._pubsub.subscribe(name)
        if self._listener is None or self._listener.done():
            self._listener = self.loop.create_task(self._listen())
        try:
            await asyncio.wait_for(fut, timeout=5)
        except TimeoutError:
            log.warning("no subscription confirmation from Redis for %s", name)
        finally:
            self._confirmed.pop(name, None)

    async def _listen(self) -> None:
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("chat subscription read failed; retrying")
                await asyncio.sleep(1)
                continue
            if msg is None:
                continue
            if msg["type"] == "subscribe":
                fut = self._confirmed.get(_text(msg["channel"]))
                if fut is not None and not fut.done():
                    fut.set_result(True)
            elif msg["type"] == "message":
                try:
                    data = json.loads(msg["data"])
                except ValueError:
                    continue
                if data.get("o") != ORIGIN:
                    self.deliver(int(data["c"]), data["e"])


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_hub: Hub | None = None
_hub_guard = threading.Lock()
_sync_redis = None


def hub() -> Hub:
    """This process's hub, bound to the running loop (tests run a new loop per test)."""
    global _hub
    loop = asyncio.get_running_loop()
    with _hub_guard:
        if _hub is None or _hub.loop is not loop:
            _hub = Hub(loop, getattr(settings, "REDIS_URL", None) or None)
        return _hub


def publish(case_id: int, event: dict) -> None:
    """From synchronous code in any thread or process (a service after commit, the Celery
    worker): to this process's sockets of the case and, with Redis, to every other process's.
    Never raises: the event is already saved."""
    global _sync_redis
    url = getattr(settings, "REDIS_URL", None)
    try:
        if url:
            wire = _wire(case_id, event)  # before the loop can touch the event
            if _sync_redis is None:
                import redis

                _sync_redis = redis.Redis.from_url(url)
            _sync_redis.publish(channel(case_id), wire)
    except Exception:
        log.exception("chat publish failed for case %s: %s", case_id, event.get("type"))
    local = _hub
    if local is None or not local.rooms.get(case_id) or local.loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is local.loop:
        local.deliver(case_id, event)
    else:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            local.loop.call_soon_threadsafe(local.deliver, case_id, event)

"""Who is online in a case's chat and how many sockets each user holds: ephemeral, never in the
database. With REDIS_URL it lives in Redis hashes (shared by every ASGI process); without, in
this process's memory (the embedded single-process default).

Each entry carries a timestamp that its socket refreshes every HEARTBEAT seconds; entries older
than STALE (a crashed process) are ignored and pruned, and the keys expire on their own.
"""

from __future__ import annotations

import asyncio
import json
import time

from django.conf import settings

HEARTBEAT = 30
STALE = 75
PREFIX = "odr:chat"


class MemoryRegistry:
    def __init__(self) -> None:
        self.online: dict[int, dict[str, tuple[float, dict]]] = {}
        self.sockets: dict[int, dict[str, float]] = {}

    async def socket_open(self, user_id: int, channel: str) -> int:
        socks = self.sockets.setdefault(user_id, {})
        now = time.time()
        for ch, ts in list(socks.items()):
            if ts < now - STALE:
                del socks[ch]
        socks[channel] = now
        return len(socks)

    async def socket_close(self, user_id: int, channel: str) -> None:
        socks = self.sockets.get(user_id, {})
        socks.pop(channel, None)
        if not socks:
            self.sockets.pop(user_id, None)

    async def join(self, case_id: int, channel: str, info: dict) -> None:
        self.online.setdefault(case_id, {})[channel] = (time.time(), info)

    async def leave(self, case_id: int, channel: str) -> None:
        room = self.online.get(case_id, {})
        room.pop(channel, None)
        if not room:
            self.online.pop(case_id, None)

    async def refresh(self, case_id: int, user_id: int, channel: str, info: dict) -> None:
        await self.join(case_id, channel, info)
        self.sockets.setdefault(user_id, {})[channel] = time.time()

    async def list_online(self, case_id: int) -> list[dict]:
        now = time.time()
        return _unique([info for ts, info in self.online.get(case_id, {}).values()
                        if ts >= now - STALE])

    async def join_listing(self, case_id: int, channel: str, info: dict) -> list[dict]:
        await self.join(case_id, channel, info)
        return await self.list_online(case_id)

    async def leave_listing(self, case_id: int, user_id: int, channel: str) -> list[dict]:
        await self.leave(case_id, channel)
        await self.socket_close(user_id, channel)
        return await self.list_online(case_id)


class RedisRegistry:
    """Hashes `odr:chat:online:<case>` and `odr:chat:sockets:<user>`: field = channel name,
    value = timestamp (+ the user's public info)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[int, object] = {}

    def _r(self):
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None or getattr(client, "_odr_loop", None) is not loop:
            client = aioredis.from_url(self.url)
            client._odr_loop = loop
            self._clients = {id(loop): client}  # one loop per ASGI process; tests make many
        return client

    async def socket_open(self, user_id: int, channel: str) -> int:
        r, key, now = self._r(), f"{PREFIX}:sockets:{user_id}", time.time()
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, now).expire(key, STALE * 2).hgetall(key)
            *_, entries = await p.execute()
        stale = [ch for ch, ts in entries.items() if float(ts) < now - STALE]
        if stale:
            await r.hdel(key, *stale)
        return len(entries) - len(stale)

    async def socket_close(self, user_id: int, channel: str) -> None:
        await self._r().hdel(f"{PREFIX}:sockets:{user_id}", channel)

    async def join(self, case_id: int, channel: str, info: dict) -> None:
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, json.dumps({"ts": time.time(), **info})).expire(key, STALE * 2)
            await p.execute()

    async def leave(self, case_id: int, channel: str) -> None:
        await self._r().hdel(f"{PREFIX}:online:{case_id}", channel)

    async def refresh(self, case_id: int, user_id: int, channel: str, info: dict) -> None:
        await self.join(case_id, channel, info)
        r, key = self._r(), f"{PREFIX}:sockets:{user_id}"
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, time.time()).expire(key, STALE * 2)
            await p.execute()

    async def list_online(self, case_id: int) -> list[dict]:
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        return await self._fresh(r, key, await r.hgetall(key))

    async def join_listing(self, case_id: int, channel: str, info: dict) -> list[dict]:
        """join + list_online in one round trip (a reconnect wave does thousands of them)."""
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, json.dumps({"ts": time.time(), **info})).expire(key, STALE * 2)
            *_, entries = await p.hgetall(key).execute()
        return await self._fresh(r, key, entries)

    async def leave_listing(self, case_id: int, user_id: int, channel: str) -> list[dict]:
        """leave + socket_close + list_online in one round trip."""
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        async with r.pipeline(transaction=True) as p:
            p.hdel(key, channel).hdel(f"{PREFIX}:sockets:{user_id}", channel).hgetall(key)
            *_, entries = await p.execute()
        return await self._fresh(r, key, entries)

    @staticmethod
    async def _fresh(r, key: str, entries: dict) -> list[dict]:
        now = time.time()
        fresh, stale = [], []
        for ch, raw in entries.items():
            data = json.loads(raw)
            if data.pop("ts", 0) >= now - STALE:
                fresh.append(data)
            else:
                stale.append(ch)
        if stale:
            await r.hdel(key, *stale)
        return _unique(fresh)


def _unique(infos: list[dict]) -> list[dict]:
    """One entry per user (a user may have the case open in several tabs), by user id."""
    seen: dict[int, dict] = {}
    for info in infos:
        seen.setdefault(info["user"], info)
    return [seen[k] for k in sorted(seen)]


_registry: MemoryRegistry | RedisRegistry | None = None


def registry() -> MemoryRegistry | RedisRegistry:
    global _registry
    url = settings.REDIS_URL
    if _registry is None or (isinstance(_registry, RedisRegistry) != bool(url)):
        _registry = RedisRegistry(url) if url else MemoryRegistry()
    return _registry

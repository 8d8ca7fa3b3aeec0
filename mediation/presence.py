"""Who is online in a case's chat and how many sockets each user holds: ephemeral, never in the
database. With REDIS_URL it lives in Redis hashes (shared by every ASGI process); without, in
this process's memory (the embedded single-process default).

Each entry carries a timestamp that its socket refreshes every HEARTBEAT seconds; entries older
than STALE are ignored and pruned, and the keys expire on their own. In Redis an entry also
names its process, which keeps a liveness mark (`odr:chat:alive:<process>`) refreshed every
ALIVE_EVERY seconds by a thread of its own, so a busy event loop does not make it look dead.
The entries of a process whose mark has lapsed (killed, crashed) are ignored at once, not
STALE seconds later: a user who had many tabs on it is not refused as "too many sockets"
(4408) when those tabs reconnect to another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
import uuid

from django.conf import settings

HEARTBEAT = 30
STALE = 75
ALIVE_EVERY = 2  # seconds between two refreshes of a process's liveness mark
ALIVE_FOR = 8  # seconds a mark lasts: a process silent that long is taken for dead
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

    async def join_listing(self, case_id: int, channel: str, info: dict) -> tuple[list[dict], bool]:
        now = time.time()
        here = any(ts >= now - STALE and other["user"] == info["user"]
                   for ch, (ts, other) in self.online.get(case_id, {}).items() if ch != channel)
        await self.join(case_id, channel, info)
        return await self.list_online(case_id), not here

    async def leave_listing(self, case_id: int, user_id: int, channel: str) -> list[dict]:
        await self.leave(case_id, channel)
        await self.socket_close(user_id, channel)
        return await self.list_online(case_id)


_process: tuple[int, str] | None = None
_process_lock = threading.Lock()


def _alive_key(process: str) -> str:
    return f"{PREFIX}:alive:{process}"


def process_id(url: str) -> str:
    """This process's name in the entries, its liveness mark kept by a daemon thread (started
    on first use, and again after a fork)."""
    global _process
    with _process_lock:
        if _process is None or _process[0] != os.getpid():
            import redis

            name = uuid.uuid4().hex[:12]
            client = redis.Redis.from_url(url)
            client.set(_alive_key(name), 1, ex=ALIVE_FOR)  # marked before any entry names it

            def keep_alive() -> None:
                while True:
                    time.sleep(ALIVE_EVERY)
                    # Redis away: tried again next time (the sockets' own calls report it).
                    with contextlib.suppress(Exception):
                        client.set(_alive_key(name), 1, ex=ALIVE_FOR)

            threading.Thread(target=keep_alive, name="odr-chat-alive", daemon=True).start()
            _process = (os.getpid(), name)
        return _process[1]


class RedisRegistry:
    """Hashes `odr:chat:online:<case>` and `odr:chat:sockets:<user>`: field = channel name,
    value = timestamp and process (+ the user's public info)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[int, object] = {}

    @property
    def process(self) -> str:
        return process_id(self.url)

    async def _dead(self, r, processes: set[str]) -> set[str]:
        """Which of these processes have no liveness mark (none to ask about: this one)."""
        others = sorted(processes - {self.process, ""})
        if not others:
            return set()
        marks = await r.mget([_alive_key(p) for p in others])
        return {p for p, mark in zip(others, marks, strict=True) if mark is None}

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
            p.hset(key, channel, f"{now} {self.process}").expire(key, STALE * 2).hgetall(key)
            *_, entries = await p.execute()
        slots = {ch: _slot(raw) for ch, raw in entries.items()}
        dead = await self._dead(r, {process for _, process in slots.values()})
        stale = [ch for ch, (ts, process) in slots.items() if ts < now - STALE or process in dead]
        if stale:
            await r.hdel(key, *stale)
        return len(entries) - len(stale)

    async def socket_close(self, user_id: int, channel: str) -> None:
        await self._r().hdel(f"{PREFIX}:sockets:{user_id}", channel)

    def _entry(self, info: dict) -> str:
        return json.dumps({"ts": time.time(), "process": self.process, **info})

    async def join(self, case_id: int, channel: str, info: dict) -> None:
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, self._entry(info)).expire(key, STALE * 2)
            await p.execute()

    async def leave(self, case_id: int, channel: str) -> None:
        await self._r().hdel(f"{PREFIX}:online:{case_id}", channel)

    async def refresh(self, case_id: int, user_id: int, channel: str, info: dict) -> None:
        await self.join(case_id, channel, info)
        r, key = self._r(), f"{PREFIX}:sockets:{user_id}"
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, f"{time.time()} {self.process}").expire(key, STALE * 2)
            await p.execute()

    async def list_online(self, case_id: int) -> list[dict]:
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        return _unique(list((await self._fresh(r, key, await r.hgetall(key))).values()))

    async def join_listing(self, case_id: int, channel: str, info: dict) -> tuple[list[dict], bool]:
        """join + list_online in one round trip (a reconnect wave does thousands of them), and
        whether the user arrived (no other socket of theirs in the room)."""
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        async with r.pipeline(transaction=True) as p:
            p.hset(key, channel, self._entry(info)).expire(key, STALE * 2)
            *_, entries = await p.hgetall(key).execute()
        fresh = await self._fresh(r, key, entries)
        here = any(data["user"] == info["user"] for ch, data in fresh.items()
                   if ch not in (channel, channel.encode()))
        return _unique(list(fresh.values())), not here

    async def leave_listing(self, case_id: int, user_id: int, channel: str) -> list[dict]:
        """leave + socket_close + list_online in one round trip."""
        r, key = self._r(), f"{PREFIX}:online:{case_id}"
        async with r.pipeline(transaction=True) as p:
            p.hdel(key, channel).hdel(f"{PREFIX}:sockets:{user_id}", channel).hgetall(key)
            *_, entries = await p.execute()
        return _unique(list((await self._fresh(r, key, entries)).values()))

    async def _fresh(self, r, key: str, entries: dict) -> dict:
        """{channel: public info} of the room's fresh entries; the others are pruned."""
        now = time.time()
        parsed = {ch: json.loads(raw) for ch, raw in entries.items()}
        dead = await self._dead(r, {data.get("process", "") for data in parsed.values()})
        fresh, stale = {}, []
        for ch, data in parsed.items():
            if data.pop("ts", 0) >= now - STALE and data.pop("process", "") not in dead:
                fresh[ch] = data
            else:
                stale.append(ch)
        if stale:
            await r.hdel(key, *stale)
        return fresh


def _slot(raw: bytes | str) -> tuple[float, str]:
    """(timestamp, process) of a socket entry; an entry written before entries named their
    process has only the timestamp."""
    ts, _, process = (raw.decode() if isinstance(raw, bytes) else raw).partition(" ")
    return float(ts), process


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

"""Database work from the ASGI event loop (the chat socket, WebSocket token auth).

Channels' `database_sync_to_async` runs every call on the ONE thread-sensitive thread of the
process and, with CONN_MAX_AGE=0 (persistent connections leak under ASGI), opens a new
PostgreSQL connection per call: a backend fork per chat message, and every socket of the
process queued behind one thread. On PostgreSQL the calls here run instead in a fixed pool of
ODR_ASYNC_DB_THREADS threads, each keeping ONE connection: a bounded pool, not a leak. On
SQLite (the embedded default, a single writer anyway) they keep Channels' behaviour.

Also: the GIL. While the event loop is busy, a DB thread whose query has returned waits for the
loop to give up the GIL, by default up to 5 ms (`sys.setswitchinterval`) — per query, so a
chat message of ~8 round trips queued for ~40 ms per thread. `tune_gil()` (called by
odr/asgi.py) shortens the interval in ASGI processes: measured at 100 messages/s in rooms of
10, the median delivery went from ~0.9–2.9 s to ~30 ms (README → Performance).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

_pool: ThreadPoolExecutor | None = None
_pool_conns: list = []  # the raw connections the pool holds, so pool_close() can end them


def _pooled(fn, *args, **kwargs):
    conn = connections["default"]
    # This thread's connection lives as long as the process: the hot statements are worth
    # preparing on it (odr/joined.py), although CONN_MAX_AGE is 0 under ASGI.
    conn.odr_keeps_session = True
    if conn.connection is not None and (
            not conn.get_autocommit() or (conn.errors_occurred and not conn.is_usable())
            or getattr(conn, "odr_session_stale", False)):
        # Left in a transaction, broken (database restarted), or its prepared statements
        # lost (odr/joined.py): start afresh.
        conn.close()
    try:
        return fn(*args, **kwargs)
    finally:
        if conn.connection is not None and conn.connection not in _pool_conns:
            _pool_conns.append(conn.connection)


def db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as an awaitable run off the event loop (see the module docstring for where)."""
    global _pool
    if not settings.USING_POSTGRES:
        return database_sync_to_async(fn)
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=getattr(settings, "ODR_ASYNC_DB_THREADS", 4),
                                   thread_name_prefix="async-db")
    return sync_to_async(functools.partial(_pooled, fn), thread_sensitive=False, executor=_pool)


def db_deferrable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`db(fn)` for bursty work that may wait (a socket's connect, its periodic re-check): at
    most ODR_ASYNC_DB_CONNECT_SLOTS such calls are in the pool at a time, so a wave of 200
    reconnects never queues the chat's messages behind 400 connect queries in the pool's FIFO;
    the rest wait on the event loop, where waiting costs nothing."""
    inner = db(fn)

    async def gated(*args, **kwargs):
        async with _gate():
            return await inner(*args, **kwargs)

    return gated


_gates: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    held = _gates.get(id(loop))
    if held is None or held[0] is not loop:
        held = (loop, asyncio.Semaphore(getattr(settings, "ODR_ASYNC_DB_CONNECT_SLOTS", 2)))
        _gates.clear()  # one loop per ASGI process; tests make many
        _gates[id(loop)] = held
    return held[1]


def pool_close() -> None:
    """Close the pool's connections (tests, before the test database is dropped)."""
    global _pool
    for raw in _pool_conns:
        with contextlib.suppress(Exception):
            raw.close()
    _pool_conns.clear()
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


def tune_gil() -> None:
    """Shorten the GIL switch interval of an ASGI process (ODR_ASGI_SWITCH_INTERVAL seconds)."""
    interval = getattr(settings, "ODR_ASGI_SWITCH_INTERVAL", 0.001)
    if interval:
        sys.setswitchinterval(interval)

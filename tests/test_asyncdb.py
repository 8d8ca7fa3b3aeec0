"""odr/asyncdb.py: deferrable work (socket connects) takes at most ODR_ASYNC_DB_CONNECT_SLOTS
threads of the pool, so other work (chat messages) always finds one free."""

import asyncio
import threading
import time

import pytest
from django.db import connection

from odr.asyncdb import db, db_deferrable


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connect_wave_leaves_pool_threads_for_messages(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the pool exists on PostgreSQL only")
    settings.ODR_ASYNC_DB_THREADS = 4
    settings.ODR_ASYNC_DB_CONNECT_SLOTS = 2
    lock, busy, peak = threading.Lock(), [0], [0]

    def connect_work():
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        time.sleep(0.05)
        with lock:
            busy[0] -= 1

    def message_work():
        return time.monotonic()

    async def wave():
        t0 = time.monotonic()
        connects = [asyncio.ensure_future(db_deferrable(connect_work)()) for _ in range(12)]
        await asyncio.sleep(0.01)
        answered = await db(message_work)()  # while the wave is still running
        await asyncio.gather(*connects)
        return answered - t0, time.monotonic() - t0

    from odr.asyncdb import pool_close

    try:
        message_after, wave_took = asyncio.run(wave())
    finally:
        pool_close()
    assert peak[0] == 2  # never more than the slots, though the pool has 4 threads
    assert message_after < 0.05 < wave_took  # the message did not wait for the wave

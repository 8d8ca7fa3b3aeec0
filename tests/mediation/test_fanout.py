"""The chat's live bus (mediation.fanout): one publication per case, delivered to this process's
sockets of that case only, exactly once; with Redis, other processes' publications arrive and
this process's own are not delivered twice; a socket that cannot keep up is dropped (4409)."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings as django_settings

from mediation import fanout, services
from tests.mediation.conftest import Socket

needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis")


def run(coro_fn):
    return async_to_sync(coro_fn)()


def test_a_publication_reaches_the_case_sockets_of_this_process_once():
    async def go():
        hub = fanout.hub()
        got_1, got_1b, got_2 = [], [], []
        await hub.join(1, got_1.append)
        await hub.join(1, got_1b.append)
        await hub.join(2, got_2.append)
        # From another thread, as a service after commit does.
        worker = threading.Thread(target=fanout.publish, args=(1, {"type": "chat.read", "seq": 3}))
        worker.start()
        worker.join()
        for _ in range(50):
            if got_1 and got_1b:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # a duplicate (e.g. our own Redis echo) would arrive by now
        assert got_1 == got_1b == [{"type": "chat.read", "seq": 3}]
        assert got_2 == []
        await hub.leave(1, got_1.append)
        fanout.publish(1, {"type": "chat.read", "seq": 4})  # on the loop: delivered at once
        assert got_1 == [{"type": "chat.read", "seq": 3}]
        assert got_1b[-1] == {"type": "chat.read", "seq": 4}

    run(go)


@needs_redis
def test_another_process_publication_arrives_through_redis():
    import redis

    async def go():
        hub = fanout.hub()
        got = []
        await hub.join(7, got.append)  # waits for Redis to confirm the subscription
        r = redis.Redis.from_url(django_settings.REDIS_URL)
        other = json.dumps({"o": "another-process", "c": 7, "e": {"type": "chat.closed"}})
        ours = json.dumps({"o": fanout.ORIGIN, "c": 7, "e": {"type": "chat.read", "seq": 1}})
        r.publish(fanout.channel(7), other)
        r.publish(fanout.channel(7), ours)  # our own publication: delivered locally already
        r.close()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert got == [{"type": "chat.closed"}]
        await hub.leave(7, got.append)

    run(go)


@pytest.mark.django_db(transaction=True)
def test_the_sender_gets_its_message_once_and_a_lagging_socket_is_dropped(cast, settings):
    case = cast.case("in_mediation")

    async def go():
        buyer, seller = Socket(cast.buyer, case.pk), Socket(cast.seller, case.pk)
        await buyer.open()
        await seller.open()
        await buyer.drain()
        await seller.drain()
        await buyer.send({"type": "message", "body": "Xin chào", "client_id": "c1"})
        mine = await buyer.recv_type("message")
        theirs = await seller.recv_type("message")
        assert mine["message"]["seq"] == theirs["message"]["seq"]
        assert [f for f in await buyer.drain(0.3) if f["type"] == "message"] == []  # no 2nd copy

        # A flood the socket cannot forward in time: past the backlog it is closed, 4409.
        settings.ODR_CHAT_MAX_BACKLOG = 5
        hub = fanout.hub()
        for i in range(50):  # without yielding to the loop: the pumps cannot drain meanwhile
            hub.deliver(case.pk, {"type": "chat.read", "user": cast.buyer.pk, "seq": i})
        frames = []
        while True:
            out = await seller.comm.receive_output(timeout=2)
            if out["type"] == "websocket.close":
                assert out["code"] == 4409
                break
            frames.append(json.loads(out["text"]))
        assert frames[-1]["code"] == "lagging"
        assert len([f for f in frames if f["type"] == "read"]) <= 5
        # Nothing was lost: the database is the record, a reconnect resumes from it.
        msg = await database_sync_to_async(services.chat_post)(
            case=case.pk, author=cast.mediator, body="Sau khi rớt", client_id="m1")
        again = Socket(cast.seller, case.pk, query=f"since={theirs['message']['seq']}")
        _, history, _ = await again.open()
        assert [m["seq"] for m in history["messages"]] == [msg.seq]
        await again.close()
        await buyer.close()

    run(go)

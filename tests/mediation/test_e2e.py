"""End to end: two real uvicorn processes sharing Redis and the test's PostgreSQL database;
real `websockets` clients authenticated by token."""

import asyncio
import json

import pytest
from rest_framework.authtoken.models import Token

from tests.mediation.servers import uvicorn_servers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]


async def _frames_until(ws, type_: str, timeout: float = 10) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == type_:
            return frame


async def _connect(port: int, case_id: int, token: str, since: int | None = None):
    from websockets.asyncio.client import connect

    query = f"?token={token}" + (f"&since={since}" if since is not None else "")
    ws = await connect(f"ws://127.0.0.1:{port}/ws/cases/{case_id}/{query}",
                       origin=f"http://127.0.0.1:{port}")
    hello = await _frames_until(ws, "hello")
    history = await _frames_until(ws, "history")
    return ws, hello, history


def test_two_processes_share_messages_and_a_resume_has_no_gap(settings, cast):
    if not (settings.USING_POSTGRES and settings.REDIS_URL):
        pytest.skip("needs PostgreSQL and Redis")
    case = cast.case("in_mediation")
    seller_token = Token.objects.create(user=cast.seller).key
    buyer_token = Token.objects.create(user=cast.buyer).key

    async def scenario(p1: int, p2: int) -> None:
        seller, _, _ = await _connect(p1, case.pk, seller_token)
        buyer, hello, _ = await _connect(p2, case.pk, buyer_token)
        # process 1 → process 2
        await seller.send(json.dumps({"type": "message", "body": "Chào chị, shop đây",
                                      "client_id": "s-1"}))
        got = await _frames_until(buyer, "message")
        assert (got["message"]["body"], got["message"]["seq"]) == ("Chào chị, shop đây",
                                                                   hello["last_seq"] + 1)
        # process 2 → process 1
        await buyer.send(json.dumps({"type": "message", "body": "Dạ, em chào shop",
                                     "client_id": "b-1"}))
        assert (await _frames_until(seller, "message"))["message"]["body"] == "Chào chị, shop đây"
        back = await _frames_until(seller, "message")
        assert back["message"]["body"] == "Dạ, em chào shop"
        seen = back["message"]["seq"]
        await buyer.close()
        sent = []
        for i in range(5):
            await seller.send(json.dumps({"type": "message", "body": f"lúc vắng {i}",
                                          "client_id": f"s-{i + 2}"}))
            sent.append((await _frames_until(seller, "message"))["message"]["seq"])
        buyer, hello, history = await _connect(p2, case.pk, buyer_token, since=seen)
        assert [m["seq"] for m in history["messages"]] == sent == list(range(seen + 1, seen + 6))
        assert [m["body"] for m in history["messages"]] == [f"lúc vắng {i}" for i in range(5)]
        assert hello["last_seq"] == history["last_seq"] == seen + 5
        # The per-user socket limit (10) counts the sockets of both processes (Redis).
        # (The first buyer socket, closed above, must have given its slot back.)
        extra = [(await _connect(p1 if i % 2 else p2, case.pk, buyer_token))[0] for i in range(9)]
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        eleventh = await connect(f"ws://127.0.0.1:{p1}/ws/cases/{case.pk}/?token={buyer_token}",
                                 origin=f"http://127.0.0.1:{p1}")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(eleventh.recv(), 10)
        assert closed.value.rcvd.code == 4408
        for ws in (seller, buyer, *extra):
            await ws.close()

    with uvicorn_servers(2) as (p1, p2):
        asyncio.run(scenario(p1, p2))

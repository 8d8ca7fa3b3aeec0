"""The cast of a case's chat, and sockets connected as any of them."""

import json

import pytest
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from mediation import fanout, presence
from mediation.routing import websocket_urlpatterns
from odr import asyncdb
from tests import factories as f
from tests.cases.helpers import case_in, file_case


@pytest.fixture(autouse=True)
def _fresh_bus(settings):
    """A new channel layer and presence registry per test (each test runs its own loop)."""
    # PBKDF2 costs ~0.5 s per factory user on these shared cores: six users per test add up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    channel_layers.backends.clear()
    presence._registry = None
    fanout._hub = None
    if settings.REDIS_URL:
        import redis

        r = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(r.scan_iter("odr:chat:*"))
        if keys:
            r.delete(*keys)
        r.close()
    yield
    asyncdb.pool_close()  # the chat's DB threads keep connections: end them per test
    channel_layers.backends.clear()
    presence._registry = None
    fanout._hub = None


class Cast:
    def __init__(self, buyer, seller, mediator, supervisor, stranger, other_mediator, order):
        self.buyer, self.seller, self.mediator = buyer, seller, mediator
        self.supervisor, self.stranger, self.other_mediator = supervisor, stranger, other_mediator
        self.order = order

    def case(self, state: str = "awaiting_seller"):
        if state == "awaiting_seller":
            return file_case(self.order, self.buyer)
        return case_in(state, order=self.order, buyer=self.buyer, seller=self.seller,
                       mediator=self.mediator, supervisor=self.supervisor)


@pytest.fixture
def cast(buyer_user, seller_user, mediator_user, supervisor_user, stranger, order):
    return Cast(buyer_user, seller_user, mediator_user, supervisor_user, stranger,
                f.mediator(username="mediator2"), order)


class ForceUser:
    """Put a user in the scope, as the auth middleware would."""

    def __init__(self, inner, user):
        self.inner, self.user = inner, user

    async def __call__(self, scope, receive, send):
        return await self.inner({**scope, "user": self.user}, receive, send)


_router = URLRouter(websocket_urlpatterns)


class Socket:
    """A WebsocketCommunicator speaking JSON, with helpers to skim the connect frames."""

    def __init__(self, user, case_id: int, query: str = ""):
        path = f"/ws/cases/{case_id}/" + (f"?{query}" if query else "")
        self.comm = WebsocketCommunicator(ForceUser(_router, user), path)

    async def open(self) -> tuple[dict, dict, dict]:
        connected, _ = await self.comm.connect()
        assert connected
        hello, history, online = await self.recv(), await self.recv(), await self.recv()
        assert (hello["type"], history["type"], online["type"]) == ("hello", "history", "presence")
        return hello, history, online

    async def close_code(self) -> int:
        connected, _ = await self.comm.connect()
        assert connected  # accepted, then closed with a code the browser can read
        out = await self.comm.receive_output(timeout=2)
        assert out["type"] == "websocket.close"
        return out["code"]

    async def send(self, data) -> None:
        await self.comm.send_to(text_data=data if isinstance(data, str) else json.dumps(data))

    async def recv(self, timeout: float = 2) -> dict:
        return json.loads(await self.comm.receive_from(timeout=timeout))

    async def recv_type(self, type_: str, timeout: float = 2) -> dict:
        """The next frame of this type, skipping presence/typing noise."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == type_:
                return frame

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def drain(self, timeout: float = 0.2) -> list[dict]:
        frames = []
        while not await self.comm.receive_nothing(timeout=timeout):
            frames.append(await self.recv())
        return frames

    async def close(self) -> None:
        await self.comm.disconnect()

"""The bell's socket through the real ASGI stack (origin check, session/token auth, routing):
a case action by someone else arrives as a `notification` frame with the right unread count."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from notifications.models import Notification
from notifications.services import notification_mark_read, notifications_mark_all_read, notify
from odr.asgi import application
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")


def run(coro_fn):
    return async_to_sync(coro_fn)()


def session_socket(user) -> WebsocketCommunicator:
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return WebsocketCommunicator(application, "/ws/notifications/", headers=[ORIGIN, (b"cookie", cookie)])


def token_socket(user) -> WebsocketCommunicator:
    token, _ = Token.objects.get_or_create(user=user)
    return WebsocketCommunicator(application, f"/ws/notifications/?token={token.key}", headers=[ORIGIN])


def test_anonymous_is_closed_with_4401(db):
    async def go():
        comm = WebsocketCommunicator(application, "/ws/notifications/", headers=[ORIGIN])
        connected, _ = await comm.connect()
        assert connected
        assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}

    run(go)


def test_a_bad_token_is_anonymous(db):
    async def go():
        comm = WebsocketCommunicator(application, "/ws/notifications/?token=nope", headers=[ORIGIN])
        await comm.connect()
        assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}

    run(go)


def test_a_foreign_origin_is_refused(cast):
    async def go():
        comm = WebsocketCommunicator(application, "/ws/notifications/",
                                     headers=[(b"origin", b"https://evil.example")])
        connected, _ = await comm.connect()
        assert connected is False

    run(go)


def test_a_case_filed_by_the_buyer_rings_the_sellers_bell_live(cast):
    notify(event="chat_messages", users=[cast.seller], context={"count": 1})  # one already unread
    comm = session_socket(cast.seller)

    async def go():
        connected, _ = await comm.connect()
        assert connected
        assert await comm.receive_json_from(timeout=2) == {"type": "unread", "count": 1}

        case = await database_sync_to_async(file_case)(cast.order, cast.buyer)

        frame = await comm.receive_json_from(timeout=3)
        n = await database_sync_to_async(Notification.objects.get)(recipient=cast.seller, event="case_filed")
        assert frame == {
            "type": "notification",
            "notification": {
                "id": n.pk, "event": "case_filed", "title": f"Khiếu nại mới {case.reference}",
                "body": n.body, "url": f"/cases/{case.pk}/", "case": case.pk,
                "created_at": frame["notification"]["created_at"], "read": False,
            },
            "unread": 2,
        }
        assert frame["notification"]["created_at"].startswith(n.created_at.astimezone().strftime("%Y-"))
        assert await comm.receive_nothing(timeout=0.2)

        await database_sync_to_async(notification_mark_read)(user=cast.seller, notification_id=n.pk)
        assert await comm.receive_json_from(timeout=2) == {"type": "unread", "count": 1}
        await database_sync_to_async(notifications_mark_all_read)(user=cast.seller)
        assert await comm.receive_json_from(timeout=2) == {"type": "unread", "count": 0}
        await comm.disconnect()

    run(go)


def test_token_auth_and_nobody_else_hears_it(cast):
    buyer, stranger = token_socket(cast.buyer), token_socket(cast.stranger)

    async def go():
        assert (await buyer.connect())[0] and (await stranger.connect())[0]
        assert await buyer.receive_json_from(timeout=2) == {"type": "unread", "count": 0}
        assert await stranger.receive_json_from(timeout=2) == {"type": "unread", "count": 0}

        await database_sync_to_async(file_case)(cast.order, cast.buyer)  # the buyer acts: seller told

        assert await buyer.receive_nothing(timeout=0.3)  # the actor is not told
        assert await stranger.receive_nothing(timeout=0.1)
        await database_sync_to_async(notify)(event="chat_messages", users=[cast.buyer],
                                             context={"count": 2})
        frame = await buyer.receive_json_from(timeout=2)
        assert (frame["type"], frame["notification"]["event"], frame["unread"]) == (
            "notification", "chat_messages", 1)
        assert await stranger.receive_nothing(timeout=0.1)

        await buyer.send_json_to({"type": "ping"})
        assert await buyer.receive_json_from(timeout=2) == {"type": "pong"}
        await buyer.disconnect()
        await stranger.disconnect()

    run(go)

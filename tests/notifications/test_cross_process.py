"""With Redis, a notification created in another process (a Celery worker running the deadline
sweep, the chat digest) reaches a socket held by the web process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from rest_framework.authtoken.models import Token

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _needs_redis_and_postgres():
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    if not settings.USING_POSTGRES:
        pytest.skip("needs PostgreSQL (the other process must see the test database)")


def test_a_notification_from_another_process_reaches_the_socket(cast):
    from channels.testing import WebsocketCommunicator

    from odr.asgi import application

    token = Token.objects.create(user=cast.buyer)
    db = settings.DATABASES["default"]
    env = {**os.environ,
           "DATABASE_URL": (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}"
                            f"/{db['NAME']}"),
           "REDIS_URL": settings.REDIS_URL, "CELERY_TASK_ALWAYS_EAGER": "true",
           "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    code = ("from django.contrib.auth.models import User; from notifications.services import notify; "
            f"notify(event='chat_messages', users=[User.objects.get(pk={cast.buyer.pk})], "
            "context={'count': 5})")
    comm = WebsocketCommunicator(application, f"/ws/notifications/?token={token.key}",
                                 headers=[(b"origin", b"http://testserver")])

    async def go():
        assert (await comm.connect())[0]
        assert await comm.receive_json_from(timeout=2) == {"type": "unread", "count": 0}
        done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        frame = await comm.receive_json_from(timeout=5)
        assert (frame["type"], frame["notification"]["body"], frame["unread"]) == (
            "notification", "Bạn có 5 tin nhắn mới chưa đọc.", 1)
        await comm.disconnect()

    async_to_sync(go)()


def test_pushes_from_synchronous_code_arrive_through_one_loop(cast):
    """The relay and Celery tasks push from plain threads: one event loop per process carries
    every push over Redis (a new loop per push opened a new Redis connection each time)."""
    import asyncio

    from channels.layers import get_channel_layer

    from notifications import push

    layer = get_channel_layer()

    async def go():
        channel = await layer.new_channel()
        await layer.group_add(push.group_name(cast.buyer.pk), channel)
        for count in range(3):
            await asyncio.to_thread(push.push, cast.buyer.pk, {"type": "unread", "count": count})
        got = [(await asyncio.wait_for(layer.receive(channel), 5))["frame"]["count"]
               for _ in range(3)]
        await layer.group_discard(push.group_name(cast.buyer.pk), channel)
        return got

    assert async_to_sync(go)() == [0, 1, 2]
    pid, loop = push._sender
    assert pid == os.getpid() and loop.is_running()

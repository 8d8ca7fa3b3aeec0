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

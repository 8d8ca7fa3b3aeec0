"""Presence in Redis: the entries of a process that stopped (killed, crashed) stop counting at
once, not STALE seconds later (a user who had tabs on it is not refused as "too many sockets"
when they reconnect elsewhere)."""

import json
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings

from mediation import presence

pytestmark = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis")

USER, CASE = 990_001, 990_002
SOCKETS, ONLINE = f"{presence.PREFIX}:sockets:{USER}", f"{presence.PREFIX}:online:{CASE}"


@pytest.fixture
def r():
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.delete(SOCKETS, ONLINE, presence._alive_key("gone"), presence._alive_key("other"))
    client.set(presence._alive_key("other"), 1, ex=60)  # another process, alive
    yield client
    client.delete(SOCKETS, ONLINE, presence._alive_key("other"))


def test_a_stopped_process_sockets_do_not_count_against_the_cap(r):
    now = time.time()
    r.hset(SOCKETS, mapping={**{f"gone{i}": f"{now} gone" for i in range(9)},
                             "elsewhere": f"{now} other", "older-format": str(now)})
    reg = presence.RedisRegistry(django_settings.REDIS_URL)
    # this socket + the live process's + the entry that names no process (still fresh)
    assert async_to_sync(reg.socket_open)(USER, "mine") == 3
    assert {k.decode() for k in r.hkeys(SOCKETS)} == {"mine", "elsewhere", "older-format"}
    r.delete(presence._alive_key("other"))  # that process stops too
    assert async_to_sync(reg.socket_open)(USER, "mine-2") == 3


def test_a_stopped_process_users_leave_the_online_list_at_once(r):
    now = time.time()
    entry = lambda user, process: json.dumps(  # noqa: E731
        {"ts": now, "process": process, "user": user, "name": f"u{user}", "role": "buyer"})
    r.hset(ONLINE, mapping={"a": entry(1, "gone"), "b": entry(2, "other")})
    reg = presence.RedisRegistry(django_settings.REDIS_URL)
    online, arrived = async_to_sync(reg.join_listing)(CASE, "mine", {"user": 3, "name": "u3",
                                                                      "role": "seller"})
    assert [o["user"] for o in online] == [2, 3] and arrived
    assert {k.decode() for k in r.hkeys(ONLINE)} == {"b", "mine"}


def test_this_process_keeps_its_mark_alive(r, monkeypatch):
    monkeypatch.setattr(presence, "_process", None)
    monkeypatch.setattr(presence, "ALIVE_EVERY", 0.05)
    monkeypatch.setattr(presence, "ALIVE_FOR", 1)
    name = presence.process_id(django_settings.REDIS_URL)
    assert presence.process_id(django_settings.REDIS_URL) == name  # one per process
    time.sleep(1.5)  # longer than a mark lasts: only the refreshes keep it
    assert r.get(presence._alive_key(name)) is not None

"""The notifications API: my list (paginated, unread filter), read, read-all, count, preferences."""

import pytest
from django.urls import reverse

from notifications.catalog import EVENTS
from notifications.models import Notification, Preference
from notifications.services import notify
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LIST = reverse("api:notification-list")
COUNT = reverse("api:notification-unread-count")
READ_ALL = reverse("api:notification-read-all")
PREFS = reverse("api:notification-preferences")


def read_url(pk: int) -> str:
    return reverse("api:notification-read", args=[pk])


@pytest.fixture
def inbox(cast):
    """Three notifications for the buyer (oldest first), one for the stranger."""
    mine = [notify(event="chat_messages", users=[cast.buyer], context={"count": i})[0] for i in (1, 2, 3)]
    theirs = notify(event="chat_messages", users=[cast.stranger], context={"count": 9})[0]
    return mine, theirs


def test_list_shows_only_mine_newest_first_in_the_shared_shape(cast, inbox):
    mine, _ = inbox

    response = client_for(cast.buyer).get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert [r["id"] for r in body["results"]] == [n.pk for n in reversed(mine)]
    first = body["results"][0]
    assert set(first) == {"id", "event", "title", "body", "url", "case", "created_at", "read"}
    assert (first["event"], first["body"], first["url"], first["case"], first["read"]) == (
        "chat_messages", "Bạn có 3 tin nhắn mới chưa đọc.", "", None, False)


def test_list_is_paginated_and_filters_unread(cast, inbox, settings):
    mine, _ = inbox
    Notification.objects.filter(pk=mine[0].pk).update(read_at="2026-01-01T00:00:00Z")
    api = client_for(cast.buyer)

    assert [r["id"] for r in api.get(LIST, {"unread": "true"}).json()["results"]] == [mine[2].pk, mine[1].pk]
    assert [r["id"] for r in api.get(LIST, {"unread": "false"}).json()["results"]] == [mine[0].pk]
    assert api.get(LIST, {"page": 2}).status_code == 404


def test_list_pages_by_25(cast, act):
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 1})
    for _ in range(26):
        notify(event="chat_messages", users=[cast.buyer], context={"count": 1})
    api = client_for(cast.buyer)

    first = api.get(LIST).json()
    second = api.get(LIST, {"page": 2}).json()

    assert (first["count"], len(first["results"]), first["next"]) == (
        27, 25, "http://testserver/api/v1/notifications/?page=2")
    assert (len(second["results"]), second["next"]) == (2, None)


def test_list_query_count_is_fixed(cast, inbox, django_assert_num_queries):
    api = client_for(cast.buyer)
    with django_assert_num_queries(2):  # count + page
        api.get(LIST)


def test_unread_count_and_mark_read(cast, inbox):
    mine, theirs = inbox
    api = client_for(cast.buyer)
    assert api.get(COUNT).json() == {"count": 3}

    response = api.post(read_url(mine[0].pk))

    assert response.status_code == 200
    assert response.json()["unread"] == 2
    assert response.json()["notification"]["read"] is True
    assert api.get(COUNT).json() == {"count": 2}
    assert api.post(read_url(mine[0].pk)).json()["unread"] == 2  # idempotent


def test_someone_elses_notification_looks_missing_and_stays_unread(cast, inbox):
    _, theirs = inbox

    response = client_for(cast.buyer).post(read_url(theirs.pk))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(cast, inbox):
    _, theirs = inbox
    api = client_for(cast.buyer)

    assert api.post(READ_ALL).json() == {"marked": 3, "unread": 0}
    assert api.post(READ_ALL).json() == {"marked": 0, "unread": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize(("method", "url"), [("get", LIST), ("get", COUNT), ("post", READ_ALL),
                                             ("get", PREFS), ("patch", PREFS)])
def test_anonymous_gets_nothing(db, method, url):
    response = getattr(client_for(None), method)(url)
    assert response.status_code in (401, 403)


def test_preferences_default(cast):
    body = client_for(cast.buyer).get(PREFS).json()

    assert body["language"] == "vi"
    assert body["quiet_hours"] is None
    assert body["time_zone"] == "Asia/Ho_Chi_Minh"
    assert body["available_channels"] == [{"name": "email", "label": "Email"},
                                          {"name": "log", "label": "Log"}]
    assert set(body["channels"]) == set(EVENTS)
    assert body["channels"]["case_filed"] == {"email": True, "log": True}
    assert not Preference.objects.exists()  # reading creates nothing


def test_patch_merges_and_put_replaces(cast):
    api = client_for(cast.seller)

    r = api.patch(PREFS, {"language": "en", "channels": {"case_filed": {"email": False}},
                          "quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert r.status_code == 200
    assert r.json()["language"] == "en"
    assert r.json()["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert r.json()["channels"]["case_filed"] == {"email": False, "log": True}

    r = api.patch(PREFS, {"channels": {"chat_messages": {"log": False}}})
    assert r.json()["channels"]["case_filed"] == {"email": False, "log": True}
    assert r.json()["channels"]["chat_messages"] == {"email": True, "log": False}
    assert r.json()["quiet_hours"] == {"start": "22:00", "end": "07:00"}

    r = api.patch(PREFS, {"quiet_hours": None})
    assert r.json()["quiet_hours"] is None

    r = api.put(PREFS, {"language": "vi", "channels": {"decision_made": {"email": False}}})
    assert r.status_code == 200
    pref = Preference.objects.get(user=cast.seller)
    assert (pref.language, pref.channels, pref.quiet_start) == (
        "vi", {"decision_made": {"email": False}}, None)


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"language": "fr"}, "language", '"fr" is not a valid choice.'),
    ({"channels": {"no_such_event": {"email": False}}}, "channels",
     "Loại thông báo không tồn tại: no_such_event"),
    ({"channels": {"case_filed": {"pigeon": False}}}, "channels", "Kênh không tồn tại: pigeon"),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours",
     "Giờ bắt đầu và giờ kết thúc phải khác nhau."),
])
def test_bad_preferences_are_refused_with_field_messages(cast, payload, field, message):
    response = client_for(cast.buyer).patch(PREFS, payload)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert message in " ".join(error["fields"][field])
    assert not Preference.objects.exists()


def test_bad_quiet_hour_format_is_refused(cast):
    response = client_for(cast.buyer).patch(PREFS, {"quiet_hours": {"start": "25:00", "end": "07:00"}})

    assert response.status_code == 400
    assert "quiet_hours" in response.json()["error"]["fields"]

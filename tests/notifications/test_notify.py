"""The public contract other apps call: notify(event=…, users=…, case=…, context=…)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser

from cases import roles
from cases.events import CaseEvent, dispatch
from cases.services import deadline_reminders_send
from notifications.models import Delivery, Notification, Preference
from notifications.services import notify
from tests import factories as f
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db


def test_one_notification_per_real_active_person(cast, act):
    case = file_case(cast.order, cast.buyer)
    gone = f.UserFactory(username="gone", is_active=False)

    created = act(notify, event="chat_messages", case=case, context={"count": 3},
                  users=[cast.buyer, cast.buyer, gone, roles.SYSTEM, None, AnonymousUser(), cast.seller])

    assert [n.recipient.username for n in created] == ["buyer", "seller"]
    assert Notification.objects.count() == 2
    n = Notification.objects.get(recipient=cast.buyer)
    assert (n.event, n.case_id, n.language) == ("chat_messages", case.pk, "vi")
    assert n.title == f"Tin nhắn mới trong vụ việc {case.reference}"
    assert n.body == "Bạn có 3 tin nhắn mới chưa đọc."
    assert n.url == f"/cases/{case.pk}/#chat"
    assert set(n.deliveries.values_list("channel", "status")) == {("email", "sent"), ("log", "sent")}


def test_nobody_to_tell_returns_an_empty_list(cast):
    assert notify(event="chat_messages", users=[], context={"count": 1}) == []
    assert notify(event="chat_messages", users=[roles.SYSTEM]) == []
    assert Notification.objects.count() == 0


def test_english_plural_of_the_chat_digest(cast, act):
    Preference.objects.create(user=cast.buyer, language="en")
    case = file_case(cast.order, cast.buyer)
    act(notify, event="chat_messages", users=[cast.buyer], case=case, context={"count": 1})
    act(notify, event="chat_messages", users=[cast.buyer], case=case, context={"count": 4})

    assert list(Notification.objects.order_by("pk").values_list("body", flat=True)) == [
        "You have 1 unread message.", "You have 4 unread messages."]


def test_deadline_reminder_accepts_a_datetime_and_shows_vietnam_time(cast, act):
    case = file_case(cast.order, cast.buyer)
    due = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 17:00 in Hà Nội
    act(notify, event="deadline_reminder", users=[cast.seller], case=case,
        context={"due_at": due, "hours": 24})

    n = Notification.objects.get()
    assert n.title == f"Sắp đến hạn: {case.reference}"
    assert n.body == (f"Còn khoảng 24 giờ để xử lý vụ việc {case.reference} (hạn 17:00 01/12/2026). "
                      "Nếu quá hạn, vụ việc sẽ được xử lý tự động theo quy định.")
    n.refresh_from_db()
    assert n.context == {"due_at": "2026-12-01T10:00:00Z", "hours": 24}


def test_the_deadline_reminder_sweep_notifies_through_the_contract(cast, act):
    case = file_case(cast.order, cast.buyer)
    sent = act(deadline_reminders_send, now=case.due_at - timedelta(hours=3))

    assert sent == 1
    assert set(Notification.objects.filter(event="deadline_reminder")
               .values_list("recipient__username", flat=True)) == {"seller", "seller2"}


def test_a_notification_without_a_case_has_no_link(cast, act):
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 2})

    n = Notification.objects.get()
    assert (n.case_id, n.url, n.title) == (None, "", "Tin nhắn mới trong vụ việc")


def test_a_replayed_case_event_notifies_nobody_twice(cast, act):
    case = act(file_case, cast.order, cast.buyer)
    entry = case.timeline.get(action="file")
    event = CaseEvent(case_id=case.pk, entry_id=entry.pk, action="file", from_state="",
                      to_state=case.state, actor_id=cast.buyer.pk, actor_role="buyer", data={})

    act(dispatch, event)

    assert Notification.objects.count() == 2
    assert Delivery.objects.count() == 4


def test_a_buyer_without_preferences_is_told_in_the_language_they_filed_in(cast, act):
    case = file_case(cast.order, cast.buyer)
    type(case).objects.filter(pk=case.pk).update(language="en")
    case.refresh_from_db()
    act(notify, event="chat_messages", users=[cast.buyer, cast.seller], case=case, context={"count": 2})

    assert dict(Notification.objects.values_list("recipient__username", "language")) == {
        "buyer": "en", "seller": "vi"}


def test_a_replay_tells_only_who_was_not_told_yet(cast, act, monkeypatch):
    """The insert is tried first (no read before it); the constraint refuses a repeat and
    the second try leaves out exactly the people already told, whose bell rings once."""
    import notifications.services as services

    case = act(file_case, cast.order, cast.buyer)
    told = Notification.objects.filter(case=case).first()
    newcomer = f.UserFactory(username="newcomer")
    before = Notification.objects.count(), Delivery.objects.count()
    rung = []
    monkeypatch.setattr(services, "push_notification",
                        lambda notification, unread: rung.append((notification.recipient_id, unread)))

    created = act(notify, event=told.event, users=[told.recipient, newcomer], case=case,
                  context=told.context, entry_id=told.entry_id)

    assert rung == [(newcomer.pk, 1)]  # the refused first try pushed nothing
    assert [d.attempts for d in created[0].deliveries.filter(status="sent")] == [1, 1]

    assert [n.recipient_id for n in created] == [newcomer.pk]
    assert Notification.objects.count() == before[0] + 1
    assert Delivery.objects.count() == before[1] + Delivery.objects.filter(
        notification=created[0]).count() and created[0].deliveries.exists()
    assert Notification.objects.filter(entry_id=told.entry_id, recipient=told.recipient).count() == 1


def test_the_bell_payload_is_the_api_shape_for_every_notification(cast, act):
    from notifications.push import notification_payload
    from notifications.serializers import NotificationSerializer

    created = act(notify, event="chat_messages", users=[cast.buyer, cast.seller],
                  context={"count": 2})
    payloads = [notification_payload(n) for n in created]  # one shared serializer
    assert payloads == [dict(NotificationSerializer(n).data) for n in created]
    assert payloads[0]["id"] != payloads[1]["id"]


def test_unread_counts_of_several_people_in_one_query(cast, act, django_assert_num_queries):
    from notifications.selectors import unread_counts

    for _ in range(2):
        act(notify, event="chat_messages", users=[cast.buyer, cast.seller], context={"count": 1})
    Notification.objects.filter(pk=Notification.objects.filter(recipient=cast.buyer)
                                .values("pk")[:1]).update(read_at=datetime.now(UTC))
    nobody = f.UserFactory(username="nobody")
    with django_assert_num_queries(1):
        counts = unread_counts(user_ids=[cast.buyer.pk, cast.seller.pk, nobody.pk])
    assert counts == {cast.buyer.pk: 1, cast.seller.pk: 2}
    assert unread_counts(user_ids=[cast.seller.pk]) == {cast.seller.pk: 2}
    assert unread_counts(user_ids=[]) == {}

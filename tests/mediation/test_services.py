"""Chat services and selectors directly: numbering, idempotency, system lines, the digest."""

import sys
import threading
import types
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.events import CaseEvent
from mediation import services
from mediation.models import ChatMessage, ChatRoom, ReadMarker
from mediation.selectors import DigestItem, chat_digest_due
from mediation.texts import ACTIONS_VI, system_text
from tests.cases.helpers import case_in
from tests.races import needs_postgres, race


@pytest.fixture
def case(order, buyer_user, seller_user, mediator_user, supervisor_user):
    return case_in("in_mediation", order=order, buyer=buyer_user, seller=seller_user,
                   mediator=mediator_user, supervisor=supervisor_user)


def post(case, user, body, audience="all", **kw):
    return services.chat_post(case=case, author=user, body=body, audience=audience, **kw)


@pytest.mark.django_db
def test_seq_has_no_gap_after_a_refused_message(case, buyer_user):
    post(case, buyer_user, "một")
    with pytest.raises(services.NotFound):
        post(case, buyer_user, "hai", evidence_uid="00000000-0000-0000-0000-000000000000")
    assert post(case, buyer_user, "ba").seq == 2
    assert ChatRoom.objects.get(case=case).last_seq == 2


@pytest.mark.django_db
def test_system_line_is_posted_once_per_timeline_entry_even_on_a_closed_chat(case):
    entry = case.timeline.order_by("-pk").first()
    event = CaseEvent(case_id=case.pk, entry_id=entry.pk, action="decide", from_state="in_mediation",
                      to_state="decided", actor_id=None, actor_role="mediator",
                      data={"outcome": "partial_refund", "refund_amount": 150_000})
    services.chat_close(case=case)
    first = services.chat_system_post(event=event)
    assert services.chat_system_post(event=event) is None
    assert ChatMessage.objects.filter(case=case).count() == 1
    assert ChatRoom.objects.get(case=case).last_seq == first.seq  # the repeat took no number
    assert first.body == ("Hòa giải viên đã ra quyết định: hoàn tiền một phần, 150.000 ₫. "
                          "Trạng thái: Đang hòa giải → Đã có quyết định.")


@pytest.mark.django_db
def test_a_system_line_refused_for_another_reason_is_not_swallowed(case, monkeypatch):
    """Only a repeated timeline entry is a harmless refusal; any other integrity error (here a
    number already taken) surfaces (the relay logs it) instead of a line vanishing."""
    from django.db import IntegrityError

    post(case, case.buyer.user, "một")  # seq 1
    monkeypatch.setattr(services, "_next_seq", lambda case_id, allow_closed: 1)
    entry = case.timeline.order_by("-pk").first()
    event = CaseEvent(case_id=case.pk, entry_id=entry.pk, action="decide",
                      from_state="in_mediation", to_state="decided", actor_id=None,
                      actor_role="mediator", data={"outcome": "full_refund", "refund_amount": 1})
    with pytest.raises(IntegrityError):
        services.chat_system_post(event=event)


@pytest.mark.django_db
def test_no_system_line_and_no_room_for_a_case_that_is_gone():
    event = CaseEvent(case_id=10**9, entry_id=None, action="file", from_state="",
                      to_state="awaiting_seller", actor_id=None, actor_role="buyer")
    assert services.chat_system_post(event=event) is None
    assert not ChatRoom.objects.filter(case_id=10**9).exists()


def test_every_known_action_reads_as_a_vietnamese_sentence():
    for action in ACTIONS_VI:
        text = system_text(CaseEvent(case_id=1, entry_id=1, action=action, from_state="",
                                     to_state="", actor_id=None, actor_role="seller"))
        assert text.endswith(".") and "{" not in text, action
    unknown = system_text(CaseEvent(case_id=1, entry_id=1, action="new_thing", from_state="resolved",
                                    to_state="closed", actor_id=None, actor_role="system"))
    assert unknown == "Hệ thống: new thing. Trạng thái: Đã giải quyết → Đã đóng."


@pytest.mark.django_db
def test_digest_selects_each_member_once_per_case_and_not_again(case, buyer_user, seller_user,
                                                                mediator_user, monkeypatch):
    old = timezone.now() - timedelta(minutes=5)
    post(case, seller_user, "s1")
    post(case, mediator_user, "riêng người bán", audience="seller")
    post(case, buyer_user, "b3")
    fresh = post(case, seller_user, "vừa gửi")  # under 2 minutes: not yet
    ChatMessage.objects.exclude(pk=fresh.pk).update(created_at=old)
    ReadMarker.objects.create(user=mediator_user, case=case, last_read_seq=3)

    due = sorted(chat_digest_due(), key=lambda i: i.user_id)
    assert due == sorted([DigestItem(buyer_user.pk, case.pk, 1, 1),
                          DigestItem(seller_user.pk, case.pk, 2, 3)], key=lambda i: i.user_id)

    calls = []
    fake = types.ModuleType("notifications.services")
    fake.notify = lambda **kw: calls.append(kw)
    monkeypatch.setitem(sys.modules, "notifications.services", fake)
    assert services.chat_digest_send() == 2
    assert sorted((c["users"][0].pk, c["event"], c["context"]["count"]) for c in calls) == sorted(
        [(buyer_user.pk, "chat_messages", 1), (seller_user.pk, "chat_messages", 2)])
    assert all(c["case"] == case for c in calls)
    assert chat_digest_due() == []  # told once
    assert services.chat_digest_send() == 0


@pytest.mark.django_db
def test_unassigned_mediator_and_party_limits(case, buyer_user, seller_user, mediator_user):
    from tests import factories as f

    with pytest.raises(services.NotMember):
        post(case, f.mediator(username="m2"), "xin vào")
    with pytest.raises(services.Forbidden):
        services.chat_pin(case=case, actor=seller_user, seq=1)
    with pytest.raises(services.Forbidden):
        post(case, seller_user, "x", audience="buyer")
    assert ChatMessage.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posters_get_gap_free_numbers(case, buyer_user, seller_user, settings):
    if not settings.USING_POSTGRES:
        pytest.skip("needs PostgreSQL row locks")
    errors = []

    def worker(user, n):
        try:
            for i in range(n):
                post(case, user, f"{user.username}-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(u, 10)) for u in (buyer_user, seller_user) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(ChatMessage.objects.filter(case=case).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # system lines of the workflow, then the 40
    assert ChatMessage.objects.filter(case=case, kind="text").count() == 40
    assert ChatRoom.objects.get(case=case).last_seq == len(seqs)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_resends_of_one_client_id_save_one_message_and_keep_numbers_gap_free(
        case, buyer_user, settings):
    """Eight sockets resend the same frame at once (one statement on PostgreSQL: numbering and
    insert together; the losers of the race fall back and get the winner's message)."""
    if not settings.USING_POSTGRES:
        pytest.skip("needs PostgreSQL row locks")
    post(case, buyer_user, "trước")  # the room exists: every racer takes the one-statement path
    outcomes = race(*[lambda: post(case, buyer_user, "một lần thôi", client_id="resend-1")] * 8)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    results = [o for o in outcomes if not isinstance(o, Exception)]
    assert errors == []
    assert len({m.pk for m in results}) == 1 and len(results) == 8
    assert ChatMessage.objects.filter(case=case, client_id="resend-1").count() == 1
    seqs = list(ChatMessage.objects.filter(case=case).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert ChatRoom.objects.get(case=case).last_seq == len(seqs)
    services.chat_close(case=case)
    with pytest.raises(services.ChatClosed):
        post(case, buyer_user, "sau khi đóng")
    assert post(case, buyer_user, "một lần thôi", client_id="resend-1").pk == results[0].pk


@pytest.mark.django_db
def test_digest_task_notifies_through_the_notifications_app(case, buyer_user, seller_user,
                                                            mediator_user):
    notifications = pytest.importorskip("notifications.services")
    from mediation.tasks import chat_digest
    from notifications.models import Notification

    assert callable(notifications.notify)
    post(case, seller_user, "s1")
    post(case, seller_user, "s2")
    ChatMessage.objects.update(created_at=timezone.now() - timedelta(minutes=3))
    assert chat_digest() == 2
    sent = Notification.objects.filter(event="chat_messages").order_by("recipient_id")
    assert [(n.recipient_id, n.case_id, n.context["count"]) for n in sent] == sorted(
        [(buyer_user.pk, case.pk, 2), (mediator_user.pk, case.pk, 2)])
    assert chat_digest() == 0


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_message_runs_three_prepared_statements_on_a_lasting_session(
        case, buyer_user, seller_user, monkeypatch):
    """What a chat process's database thread runs per message: the case with its buyer, the
    author's shops and the numbered insert, each prepared once per session, then executed."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    first = post(case, buyer_user, "một").seq  # the room exists: the one-statement path now
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    try:
        with CaptureQueriesContext(connection) as seen:
            seqs = [post(case, user, f"tin {i}").seq
                    for i, user in enumerate([buyer_user, seller_user, buyer_user])]
        ran = [" ".join(q["sql"].split()[:2]).split("(")[0] for q in seen.captured_queries
               if q["sql"].startswith(("PREPARE", "EXECUTE"))]
    finally:
        connection.close()
    assert seqs == [first + 1, first + 2, first + 3]
    for name in ("odr_case_with_buyer", "odr_shops_of", "odr_chat_insert"):
        assert ran.count(f"PREPARE {name}") == 1 and ran.count(f"EXECUTE {name}") == 3, name
    assert [m.body for m in ChatMessage.objects.filter(case=case, kind="text").order_by("seq")] \
        == ["một", "tin 0", "tin 1", "tin 2"]

"""Reminders go out 24 h before a deadline (and 1 h before for mediators), once each."""

import pytest
import time_machine

from cases import services
from cases.models import Reminder, State
from cases.services.deadlines import (
    deadline_reminder_recipients,
    deadline_reminders_due,
    deadline_reminders_send,
)
from tests import factories as f
from tests.cases.helpers import case_in, file_case
from tests.deadlines.helpers import make_order, vn

pytestmark = pytest.mark.django_db


def test_seller_reminded_once_24h_before(buyer_user, seller_user, notified):
    colleague = f.UserFactory(username="seller2")
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:  # due Thu 10 Dec 09:00
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
        case.seller.staff.add(colleague)
        clock.move_to(vn(2026, 12, 9, 8, 59))
        assert deadline_reminders_send() == 0
        clock.move_to(vn(2026, 12, 9, 9, 0))
        assert [(c.pk, kind, hours) for c, kind, hours in deadline_reminders_due()] == [(case.pk, "24h", 24)]
        assert deadline_reminders_send() == 1
        assert deadline_reminders_send() == 0
        clock.move_to(vn(2026, 12, 10, 8, 30))
        assert deadline_reminders_send() == 0  # no 1 h reminder for parties
    reminder = Reminder.objects.get()
    assert (reminder.case_id, reminder.kind, reminder.due_at, reminder.state) == (
        case.pk, "24h", vn(2026, 12, 10, 9, 0), State.AWAITING_SELLER)
    assert reminder.recipients == sorted([seller_user.pk, colleague.pk])
    assert reminder.sent_at == vn(2026, 12, 9, 9, 0)
    assert notified == [{"event": "deadline_reminder", "users": sorted([seller_user.pk, colleague.pk]),
                         "case": case.pk, "context": {
                             "due_at": vn(2026, 12, 10, 9, 0), "hours": 24, "kind": "24h",
                             "state": State.AWAITING_SELLER, "reference": case.reference}}]


def test_a_moved_deadline_gets_its_own_reminder(buyer_user, seller_user, notified):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
        clock.move_to(vn(2026, 12, 9, 10, 0))
        assert deadline_reminders_send() == 1  # seller reminded about Thu 09:00
        services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund", amount=1000)
        clock.move_to(vn(2026, 12, 11, 10, 0))  # buyer's deadline: Mon 14 Dec 10:00
        assert deadline_reminders_send() == 0
        clock.move_to(vn(2026, 12, 13, 10, 0))
        assert deadline_reminders_send() == 1
    assert list(Reminder.objects.order_by("pk").values_list("state", "kind")) == [
        (State.AWAITING_SELLER, "24h"), (State.AWAITING_BUYER, "24h")]
    assert [c["users"] for c in notified] == [[seller_user.pk], [buyer_user.pk]]


def test_mediator_reminded_24h_and_1h_before(buyer_user, seller_user, mediator_user, supervisor_user,
                                            notified):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        case = case_in(State.IN_MEDIATION, order=make_order(buyer_user, seller_user), buyer=buyer_user,
                       seller=seller_user, mediator=mediator_user, supervisor=supervisor_user)
        assert case.due_at == vn(2026, 12, 16, 9, 0)
        clock.move_to(vn(2026, 12, 15, 9, 0))
        assert deadline_reminders_send() == 1
        clock.move_to(vn(2026, 12, 16, 7, 59))
        assert deadline_reminders_send() == 0
        clock.move_to(vn(2026, 12, 16, 8, 0))
        assert deadline_reminders_send() == 1
        assert deadline_reminders_send() == 0
    assert [(c["users"], c["context"]["hours"]) for c in notified] == [
        ([mediator_user.pk], 24), ([mediator_user.pk], 1)]


def test_recipients_follow_who_must_act(buyer_user, seller_user, mediator_user, supervisor_user):
    other_supervisor = f.supervisor(username="sup2")
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False):
        order = make_order(buyer_user, seller_user)
        case = case_in(State.UNDER_APPEAL, order=order, buyer=buyer_user, seller=seller_user,
                       mediator=mediator_user, supervisor=supervisor_user)
    assert deadline_reminder_recipients(case) == [supervisor_user, other_supervisor]
    decided = case_in(State.DECIDED, order=make_order(buyer_user, seller_user), buyer=buyer_user,
                      seller=seller_user, mediator=mediator_user, supervisor=supervisor_user)
    assert deadline_reminder_recipients(decided) == [buyer_user, seller_user]


def test_without_notify_the_reminder_is_recorded_unsent(buyer_user, seller_user, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "notifications.services", None)  # import fails
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        file_case(make_order(buyer_user, seller_user), buyer_user)
        clock.move_to(vn(2026, 12, 9, 9, 0))
        assert deadline_reminders_send() == 1
        assert deadline_reminders_send() == 0
    assert list(Reminder.objects.values_list("kind", "sent_at")) == [("24h", None)]


def test_marketplace_may_remind_earlier(buyer_user, seller_user, notified):
    market = f.PartnerFactory(code="ocop", policy={"reminder_hours_before": 48})
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        file_case(make_order(buyer_user, seller_user, marketplace=market), buyer_user)
        clock.move_to(vn(2026, 12, 8, 9, 0))
        assert deadline_reminders_send() == 1
    assert [c["context"]["hours"] for c in notified] == [48]


def test_real_notify_creates_one_notification_per_recipient(buyer_user, seller_user):
    models = pytest.importorskip("notifications.models")
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
        clock.move_to(vn(2026, 12, 9, 9, 0))
        assert deadline_reminders_send() == 1
        assert deadline_reminders_send() == 0
    notes = models.Notification.objects.filter(event="deadline_reminder")
    assert [(n.recipient_id, n.case_id) for n in notes] == [(seller_user.pk, case.pk)]
    assert "24" in notes[0].body
    assert Reminder.objects.get().sent_at == vn(2026, 12, 9, 9, 0)

"""Per-user preferences: channels per event, quiet hours in Vietnam time, and the defaults."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from cases import services
from notifications.models import Delivery, Notification, Preference
from notifications.services import deliveries_release, notification_mark_read, quiet_until
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def at(hour: int, minute: int = 0, *, days: int = 1) -> datetime:
    """A wall-clock time in Vietnam `days` after today (close to the factories' order dates)."""
    day = datetime.now(HCM).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HCM)
SMS = {
    "email": {"BACKEND": "notifications.backends.email.EmailBackend"},
    "sms": {"BACKEND": "tests.notifications.backends.SmsLikeBackend"},
}


def test_a_channel_switched_off_is_skipped_but_the_bell_still_rings(cast, act):
    Preference.objects.create(user=cast.seller, channels={"case_filed": {"email": False}})
    act(file_case, cast.order, cast.buyer)

    mine = Delivery.objects.filter(notification__recipient=cast.seller)
    assert set(mine.values_list("channel", "status", "last_error")) == {
        ("email", "skipped", "disabled in preferences"), ("log", "sent", "")}
    assert Notification.objects.filter(recipient=cast.seller).count() == 1
    assert [m.to for m in mail.outbox] == [["seller2@example.vn"]]


def test_switching_off_one_event_leaves_the_others_on(cast, act):
    Preference.objects.create(user=cast.buyer, channels={"case_filed": {"email": False}})
    case = file_case(cast.order, cast.buyer)
    act(services.case_offer, case_id=case.pk, actor=cast.seller, remedy="partial_refund", amount=1000)

    assert Delivery.objects.get(notification__recipient=cast.buyer, channel="email").status == "sent"


def test_a_channel_follows_its_own_defaults_until_the_user_chooses(cast, act, settings):
    settings.NOTIFICATION_BACKENDS = SMS
    Preference.objects.create(user=cast.seller2, channels={"case_filed": {"sms": False}})
    case = act(file_case, cast.order, cast.buyer)  # case_filed: SMS on by default
    act(services.case_offer, case_id=case.pk, actor=cast.seller, remedy="partial_refund", amount=1000)

    rows = set(Delivery.objects.values_list("notification__recipient__username", "notification__event",
                                            "channel", "status"))
    assert rows == {
        ("seller", "case_filed", "email", "sent"), ("seller", "case_filed", "sms", "sent"),
        ("seller2", "case_filed", "email", "sent"), ("seller2", "case_filed", "sms", "skipped"),
        ("buyer", "offer_made", "email", "sent"), ("buyer", "offer_made", "sms", "skipped"),
    }


@pytest.mark.parametrize(("local", "start", "end", "until"), [
    ("2026-11-23 23:30", time(22), time(7), "2026-11-24 07:00"),
    ("2026-11-24 06:59", time(22), time(7), "2026-11-24 07:00"),
    ("2026-11-24 07:00", time(22), time(7), None),
    ("2026-11-24 21:59", time(22), time(7), None),
    ("2026-11-24 12:15", time(12), time(13, 30), "2026-11-24 13:30"),
    ("2026-11-24 13:30", time(12), time(13, 30), None),
])
def test_quiet_hours_are_wall_clock_times_in_vietnam(local, start, end, until):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=HCM)
    pref = Preference(quiet_start=start, quiet_end=end)

    got = quiet_until(pref=pref, now=now)

    expected = datetime.strptime(until, "%Y-%m-%d %H:%M").replace(tzinfo=HCM) if until else None
    assert got == expected


def test_no_or_empty_quiet_hours_hold_nothing():
    now = datetime(2026, 11, 24, 3, 0, tzinfo=HCM)
    assert quiet_until(pref=None, now=now) is None
    assert quiet_until(pref=Preference(quiet_start=time(22), quiet_end=time(22)), now=now) is None


def test_quiet_hours_hold_email_until_they_end_and_store_in_app_at_once(cast, act):
    Preference.objects.create(user=cast.seller, quiet_start=time(22), quiet_end=time(7))
    with time_machine.travel(at(23, 30), tick=False):
        act(file_case, cast.order, cast.buyer)

    held = Delivery.objects.get(notification__recipient=cast.seller, channel="email")
    assert (held.status, held.attempts) == ("pending", 0)
    assert held.not_before == at(7, days=2)
    assert Delivery.objects.get(notification__recipient=cast.seller, channel="log").status == "sent"
    assert Notification.objects.filter(recipient=cast.seller).count() == 1
    assert [m.to for m in mail.outbox] == [["seller2@example.vn"]]  # seller2 has no quiet hours

    assert act(deliveries_release, now=at(6, 59, days=2)) == 0
    assert act(deliveries_release, now=at(7, days=2)) == 1

    held.refresh_from_db()
    assert (held.status, held.attempts, held.not_before) == ("sent", 1, None)
    assert [m.to for m in mail.outbox] == [["seller2@example.vn"], ["seller@example.vn"]]


def test_a_held_email_is_dropped_if_read_in_the_app_meanwhile(cast, act):
    Preference.objects.create(user=cast.seller, quiet_start=time(22), quiet_end=time(7))
    with time_machine.travel(at(23, 30), tick=False):
        act(file_case, cast.order, cast.buyer)
    n = Notification.objects.get(recipient=cast.seller)
    act(notification_mark_read, user=cast.seller, notification_id=n.pk)

    assert act(deliveries_release, now=at(7, 5, days=2)) == 0

    d = n.deliveries.get(channel="email")
    assert (d.status, d.last_error) == ("skipped", "read in app before quiet hours ended")
    assert [m.to for m in mail.outbox] == [["seller2@example.vn"]]


def test_outside_quiet_hours_nothing_is_held(cast, act):
    Preference.objects.create(user=cast.seller, quiet_start=time(22), quiet_end=time(7))
    with time_machine.travel(at(10), tick=False):
        act(file_case, cast.order, cast.buyer)

    d = Delivery.objects.get(notification__recipient=cast.seller, channel="email")
    assert (d.status, d.not_before) == ("sent", None)

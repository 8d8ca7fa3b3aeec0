"""Sending: email as HTML + text with an absolute link, retries with a bound, per-channel status,
and a failing channel never touching the case."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from cases.models import Case, State, TimelineEntry
from notifications.models import Delivery, Notification
from notifications.services import (
    DeliveryRetry,
    deliveries_release,
    delivery_retry,
    delivery_send,
    notify,
)
from notifications.tasks import deliver
from tests.cases.helpers import file_case
from tests.notifications import backends as tb

pytestmark = pytest.mark.django_db

FLAKY = {"flaky": {"BACKEND": "tests.notifications.backends.FlakyBackend"}}
BROKEN = {"email": {"BACKEND": "tests.notifications.backends.BrokenBackend"}}


def test_email_is_multipart_with_an_absolute_link_to_the_case(cast, act):
    case = act(file_case, cast.order, cast.buyer)

    assert len(mail.outbox) == 2
    message = next(m for m in mail.outbox if m.to == ["seller@example.vn"])
    link = f"https://odr.quangninh.test/cases/{case.pk}/"
    assert message.subject == f"[ODR] Khiếu nại mới {case.reference}"
    assert message.from_email == "odr@trungtam-odr.quangninh.gov.vn"
    assert message.body.startswith(
        f"Xin chào Nguyễn,\n\nKhiếu nại mới {case.reference}\n\nNgười mua khiếu nại")
    assert f"Xem vụ việc: {link}" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'<a href="{link}"' in html
    assert '<html lang="vi">' in html
    n = Notification.objects.get(recipient=cast.seller)
    assert message.extra_headers["X-ODR-Notification"] == str(n.pk)
    email = n.deliveries.get(channel="email")
    assert (email.status, email.attempts, email.last_error) == ("sent", 1, "")
    assert email.sent_at is not None


def test_a_user_without_an_email_address_is_skipped_on_email_only(cast, act):
    cast.seller2.email = ""
    cast.seller2.save()
    act(file_case, cast.order, cast.buyer)

    d = Delivery.objects.get(notification__recipient=cast.seller2, channel="email")
    assert (d.status, d.attempts, d.last_error) == ("skipped", 0, "no address for this channel")
    assert Delivery.objects.get(notification__recipient=cast.seller2, channel="log").status == "sent"
    assert [m.to for m in mail.outbox] == [["seller@example.vn"]]


def test_a_backend_failing_twice_then_succeeding_is_retried_to_sent(cast, act, settings):
    settings.NOTIFICATION_BACKENDS = FLAKY
    tb.FlakyBackend.calls, tb.FlakyBackend.failures = 0, 2
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 1})

    d = Delivery.objects.get()
    assert (d.channel, d.status, d.attempts, d.last_error) == ("flaky", "sent", 3, "")
    assert tb.FlakyBackend.calls == 3


def test_retries_are_bounded_and_the_last_error_is_kept(cast, act, settings):
    settings.NOTIFICATION_BACKENDS = FLAKY
    settings.NOTIFICATION_MAX_ATTEMPTS = 4
    tb.FlakyBackend.calls, tb.FlakyBackend.failures = 0, 100
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 1})

    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.last_error) == ("failed", 4, "DeliveryError: gateway timeout #4")
    assert tb.FlakyBackend.calls == 4


def test_a_permanent_refusal_is_not_retried(cast, act, settings):
    settings.NOTIFICATION_BACKENDS = {"sms": {"BACKEND": "tests.notifications.backends.RejectingBackend"}}
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 1})

    d = Delivery.objects.get()
    assert (d.status, d.attempts, d.last_error) == ("failed", 1, "PermanentDeliveryError: number blocked")


def test_the_service_raises_for_retry_and_records_each_attempt(cast, settings):
    settings.NOTIFICATION_BACKENDS = FLAKY
    tb.FlakyBackend.calls, tb.FlakyBackend.failures = 0, 1
    [n] = notify(event="chat_messages", users=[cast.buyer], context={"count": 1})
    d = n.deliveries.get()

    with pytest.raises(DeliveryRetry, match="gateway timeout #1"):
        delivery_send(delivery_id=d.pk)
    d.refresh_from_db()
    assert (d.status, d.attempts, d.claimed_until) == ("pending", 1, None)

    assert delivery_send(delivery_id=d.pk).status == "sent"
    assert delivery_send(delivery_id=d.pk) is None  # sent once, never again
    d.refresh_from_db()
    assert (d.status, d.attempts) == ("sent", 2)


def test_a_delivery_claimed_by_another_worker_is_left_alone(cast):
    [n] = notify(event="chat_messages", users=[cast.buyer], context={"count": 1})
    d = n.deliveries.get(channel="email")
    Delivery.objects.filter(pk=d.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))

    assert delivery_send(delivery_id=d.pk) is None
    d.refresh_from_db()
    assert (d.status, d.attempts) == ("pending", 0)
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_email_never_blocks_a_case_transition(cast, settings):
    """Real commits: the case commits, then the eager task fails every attempt."""
    settings.NOTIFICATION_BACKENDS = BROKEN
    settings.NOTIFICATION_MAX_ATTEMPTS = 3

    case = file_case(cast.order, cast.buyer)

    case = Case.objects.get(pk=case.pk)
    assert case.state == State.AWAITING_SELLER
    assert TimelineEntry.objects.filter(case=case, action="file").count() == 1
    assert Notification.objects.filter(case=case).count() == 2
    assert set(Delivery.objects.values_list("status", "attempts", "last_error")) == {
        ("failed", 3, "ConnectionError: SMTP server unreachable")}


def test_a_broker_outage_leaves_the_delivery_pending_for_the_sweep(cast, act, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(deliver, "delay", down)
    case = act(file_case, cast.order, cast.buyer)

    assert Case.objects.get(pk=case.pk).state == State.AWAITING_SELLER
    assert set(Delivery.objects.values_list("status", "attempts")) == {("pending", 0)}
    monkeypatch.undo()

    later = timezone.now() + timedelta(hours=1)
    assert deliveries_release(now=later) == 4
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert deliveries_release(now=later + timedelta(hours=1)) == 0


def test_support_can_resend_a_failed_delivery(cast, act, settings):
    settings.NOTIFICATION_BACKENDS = {"sms": {"BACKEND": "tests.notifications.backends.RejectingBackend"}}
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 1})
    d = Delivery.objects.get()
    settings.NOTIFICATION_BACKENDS = {"sms": {"BACKEND": "tests.notifications.backends.RecordingBackend"}}
    tb.RecordingBackend.sent = []

    assert act(delivery_retry, delivery_id=d.pk) is True
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_error) == ("sent", 1, "")
    assert act(delivery_retry, delivery_id=d.pk) is False  # only failed ones


def test_the_deliver_task_is_a_thin_wrapper(cast, settings):
    settings.NOTIFICATION_BACKENDS = {"rec": {"BACKEND": "tests.notifications.backends.RecordingBackend"}}
    tb.RecordingBackend.sent = []
    [n] = notify(event="chat_messages", users=[cast.buyer], context={"count": 1})

    deliver.apply(args=[n.deliveries.get().pk])

    assert tb.RecordingBackend.sent == [(n.pk, cast.buyer.pk, "chat_messages")]


def test_without_on_commit_enqueue_the_sweep_sends(cast, act, settings):
    settings.NOTIFICATION_ENQUEUE_ON_COMMIT = False
    act(notify, event="chat_messages", users=[cast.buyer], context={"count": 1})
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}

    assert deliveries_release(now=timezone.now() + timedelta(hours=1)) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}

"""Delivery of escrow instructions to a real partner simulator over loopback: confirmation,
retries, dead letters, leases, idempotent confirmation, and 1,000 instructions through 30 %
injected failures and timeouts."""

import json
import time
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from cases import services
from cases.models import Case, Payment, State, TimelineEntry
from escrow import delivery
from escrow.models import DeliveryAttempt, EscrowInstruction
from escrow.services import escrow_confirm
from partners import signing
from tests.cases.helpers import file_case
from tests.escrow.support import SECRET, deliver_all, point_at

pytestmark = pytest.mark.django_db
Status = EscrowInstruction.Status


@pytest.fixture
def momo(simulator, fast_delivery, order):
    return point_at(simulator)


def test_hold_is_sent_signed_and_confirmed_once(momo, simulator, order, buyer_user):
    # given a filed case: a 300,000 ₫ hold in the outbox
    case = file_case(order, buyer_user, amount=300_000)
    hold = EscrowInstruction.objects.get(case=case)
    # when the worker delivers what is due
    outcomes = delivery.deliver_due()
    # then the partner applied it once and odr recorded the confirmation
    assert outcomes == Counter({"confirmed": 1})
    hold.refresh_from_db()
    assert (hold.status, hold.attempts) == (Status.CONFIRMED, 1)
    assert hold.partner_reference.startswith("SIM-")
    ledger = simulator.ledger()
    assert [(a["key"], a["type"], a["amount"]) for a in ledger["applications"]] == [
        (str(hold.pk), "hold", 300_000)]
    payment = Payment.objects.get(pk=case.payment_id)
    assert (payment.held_amount, payment.refunded_amount, payment.released_amount) == (300_000, 0, 0)
    entry = TimelineEntry.objects.get(case=case, action="escrow_confirmed")
    assert (entry.data["kind"], entry.data["amount"], entry.actor_role) == ("hold", 300_000, "system")
    attempt = DeliveryAttempt.objects.get(instruction=hold)
    assert (attempt.number, attempt.status_code, attempt.outcome) == (1, 200, "confirmed")
    # and a second round sends nothing
    assert delivery.deliver_due() == Counter()
    assert simulator.ledger()["counts"]["requests"] == 1


def test_wire_format_headers_and_no_redirects(fast_delivery, order, buyer_user):
    # given a partner endpoint on loopback that records what it receives
    seen = {}

    def app(request: httpx.Request):
        seen["headers"], seen["body"] = dict(request.headers), request.content
        return httpx.Response(307, headers={"Location": "http://evil.example/steal"})

    case = file_case(order, buyer_user, amount=300_000)
    payment = Payment.objects.get(pk=case.payment_id)
    payment.partner.__class__.objects.filter(pk=payment.partner_id).update(base_url="http://p.test")
    [outgoing] = delivery.instructions_claim(limit=5)
    # when it is sent
    with httpx.Client(transport=httpx.MockTransport(app), follow_redirects=False) as client:
        result = delivery.instruction_send(outgoing, client=client)
    delivery.attempt_record(outgoing=outgoing, result=result)
    # then the body and headers are the protocol's, signed with the partner's first secret
    body = json.loads(seen["body"])
    hold = EscrowInstruction.objects.get(case=case)
    assert body == {
        "id": str(hold.pk), "type": "hold", "amount": 300_000, "currency": "VND",
        "payment": {"reference": payment.external_id, "amount": 450_000},
        "case": case.reference, "reason": f"{case.reference} opened",
        "created_at": hold.created_at.isoformat(),
        "callback_url": "http://127.0.0.1:8000/api/v1/partners/momo/events/",
    }
    assert seen["headers"]["idempotency-key"] == str(hold.pk)
    signing.verify(secrets=[SECRET], timestamp=seen["headers"]["x-odr-timestamp"],
                   signature=seen["headers"]["x-odr-signature"], body=seen["body"])
    # and a redirect is never followed: the instruction is dead-lettered
    hold.refresh_from_db()
    assert (hold.status, hold.last_error) == (Status.DEAD, "HTTP 307: redirect refused")
    assert TimelineEntry.objects.filter(case=case, action="escrow_dead_letter").count() == 1


def test_4xx_is_dead_lettered_at_once_and_audited(momo, simulator, order, buyer_user):
    simulator.configure(error_4xx_rate=1.0)
    case = file_case(order, buyer_user, amount=300_000)
    assert delivery.deliver_due() == Counter({"dead": 1})
    hold = EscrowInstruction.objects.get(case=case)
    assert hold.status == Status.DEAD
    assert hold.last_error.startswith("HTTP 400 rejected_by_partner")
    assert DeliveryAttempt.objects.filter(instruction=hold).count() == 1
    assert Payment.objects.get(pk=case.payment_id).held_amount == 0
    # a dead letter is never sent again by the sweep
    assert delivery.deliver_due() == Counter()


def test_5xx_retries_with_backoff_until_confirmed(momo, simulator, order, buyer_user):
    simulator.configure(fail_rate=1.0)
    case = file_case(order, buyer_user, amount=300_000)
    assert delivery.deliver_due(limit=1) == Counter({"retry": 1})
    hold = EscrowInstruction.objects.get(case=case)
    assert (hold.status, hold.attempts) == (Status.PENDING, 1)
    assert hold.last_error.startswith("HTTP 503 temporarily_unavailable")
    assert hold.next_attempt_at <= timezone.now() + timedelta(seconds=0.05)
    simulator.configure(fail_rate=0.0)
    deliver_all()
    hold.refresh_from_db()
    assert (hold.status, hold.attempts) == (Status.CONFIRMED, 2)
    assert [a.outcome for a in hold.delivery_attempts.order_by("number")] == ["retry", "confirmed"]


def test_timeout_after_partner_applied_is_resent_and_applied_once(momo, simulator, order, buyer_user):
    # given a partner that applies the instruction, then hangs up without answering
    simulator.configure(timeout_rate=1.0, timeout_s=0.2, seed=4)  # seed 4: hang after apply
    case = file_case(order, buyer_user, amount=300_000)
    delivery.deliver_due()
    hold = EscrowInstruction.objects.get(case=case)
    assert hold.status == Status.PENDING
    # when the partner recovers and the worker retries
    simulator.configure(timeout_rate=0.0)
    deliver_all()
    # then the money moved once, on both sides
    hold.refresh_from_db()
    assert hold.status == Status.CONFIRMED
    assert [a["key"] for a in simulator.ledger()["applications"]] == [str(hold.pk)]
    assert Payment.objects.get(pk=case.payment_id).held_amount == 300_000


def test_retry_window_spent_dead_letters(momo, simulator, order, buyer_user):
    simulator.configure(fail_rate=1.0)
    case = file_case(order, buyer_user, amount=300_000)
    EscrowInstruction.objects.filter(case=case).update(give_up_at=timezone.now() - timedelta(seconds=1))
    assert delivery.deliver_due() == Counter({"retry": 1})
    hold = EscrowInstruction.objects.get(case=case)
    assert hold.status == Status.DEAD
    assert hold.last_error.startswith("retry window spent; last: HTTP 503")


def test_a_leased_row_is_not_claimed_twice(momo, order, buyer_user):
    file_case(order, buyer_user, amount=300_000)
    first = delivery.instructions_claim(limit=10)
    second = delivery.instructions_claim(limit=10)
    assert (len(first), second) == (1, [])
    assert EscrowInstruction.objects.get().attempts == 1
    # a dead worker's lease expires and the row is sent again
    EscrowInstruction.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert len(delivery.instructions_claim(limit=10)) == 1


def test_later_instruction_waits_for_earlier_of_same_payment(
        momo, simulator, settings, order, buyer_user, seller_user, django_capture_on_commit_callbacks):
    # given a hold the partner cannot take yet, and the refund that resolves the case
    simulator.configure(fail_rate=1.0)
    settings.ESCROW_BACKOFF_BASE_SECONDS = settings.ESCROW_BACKOFF_CAP_SECONDS = 3600
    case = file_case(order, buyer_user, amount=300_000)
    services.case_accept_claim(case_id=case.pk, actor=seller_user)
    delivery.deliver_due()
    assert delivery.instructions_claim(limit=5) == []  # the hold backs off, the refund waits
    EscrowInstruction.objects.update(next_attempt_at=timezone.now())
    kinds = dict(EscrowInstruction.objects.values_list("kind", "attempts"))
    # then only the hold was tried: the refund is held back behind it
    assert kinds == {"hold": 1, "refund": 0}
    simulator.configure(fail_rate=0.0)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all()
    # and in order: hold then refund, the case closes once its money is settled
    assert [a["type"] for a in simulator.ledger()["applications"]] == ["hold", "refund"]
    payment = Payment.objects.get(pk=case.payment_id)
    assert (payment.held_amount, payment.refunded_amount) == (0, 300_000)
    assert Case.objects.get(pk=case.pk).state == State.CLOSED


def test_confirmation_is_idempotent(momo, order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    hold = EscrowInstruction.objects.get(case=case)
    _, applied = escrow_confirm(instruction_id=hold.pk, partner_reference="P1")
    _, again = escrow_confirm(instruction_id=hold.pk, partner_reference="P2")
    assert (applied, again) == (True, False)
    hold.refresh_from_db()
    assert hold.partner_reference == "P1"
    assert Payment.objects.get(pk=case.payment_id).held_amount == 300_000
    assert TimelineEntry.objects.filter(case=case, action="escrow_confirmed").count() == 1


def test_partner_not_configured_retries(fast_delivery, order, buyer_user):
    file_case(order, buyer_user, amount=300_000)
    assert delivery.deliver_due(limit=1) == Counter({"retry": 1})
    assert EscrowInstruction.objects.get().last_error.startswith("partner_not_configured")


def bulk_cases(order, n: int) -> list[Case]:
    """`n` cases on `n` payments of 450,000 ₫ of one shop (bulk-created test data)."""
    from cases.models import Order

    orders = Order.objects.bulk_create([
        Order(marketplace=order.marketplace, external_id=f"BULK{i}", buyer=order.buyer,
              seller=order.seller, total=450_000, placed_at=order.placed_at,
              delivered_at=order.delivered_at) for i in range(n)])
    template = order.payments.get()
    payments = Payment.objects.bulk_create([
        Payment(partner=template.partner, external_id=f"BULKPAY{i}", order=o, method="ewallet",
                amount=450_000, paid_at=template.paid_at) for i, o in enumerate(orders)])
    return Case.objects.bulk_create([
        Case(order=o, payment=p, buyer=o.buyer, seller=o.seller, marketplace=o.marketplace,
             reason="damaged", desired_outcome="full_refund", claimed_amount=100_000,
             description="bulk") for o, p in zip(orders, payments, strict=True)])


def instruct_each(cases, kinds=("hold", "refund", "release"), amount=100_000) -> list[EscrowInstruction]:
    """One instruction per case, written through escrow_instruct as the workflow writes them."""
    from django.db import transaction

    from escrow.services import escrow_instruct

    with transaction.atomic():
        return [escrow_instruct(case=c, kind=kinds[i % len(kinds)], amount=amount + i, reason="bulk")
                for i, c in enumerate(cases)]


def test_thousand_instructions_through_30_percent_failures(momo, simulator, order):
    # given 1,000 instructions and a partner failing 15 % (503) and timing out 15 % of requests
    instructions = instruct_each(bulk_cases(order, 1000))
    simulator.configure(fail_rate=0.15, timeout_rate=0.15, timeout_s=0.2)
    # when the workers deliver until nothing is in flight
    started = time.monotonic()
    rounds = deliver_all(timeout_s=50, concurrency=16)
    print(f"1,000 instructions delivered in {time.monotonic() - started:.1f} s, {rounds} rounds")
    # then every instruction was applied exactly once by the partner ...
    ledger = simulator.ledger()
    keys = [a["key"] for a in ledger["applications"]]
    assert len(keys) == 1000
    assert set(keys) == {str(i.pk) for i in instructions}
    # ... and confirmed exactly once in odr, with the positions the partner holds
    assert Counter(EscrowInstruction.objects.values_list("status", flat=True)) == {"confirmed": 1000}
    assert TimelineEntry.objects.filter(action="escrow_confirmed").count() == 1000
    for payment in Payment.objects.filter(external_id__startswith="BULKPAY"):
        figures = ledger["payments"][payment.external_id]
        assert (payment.held_amount, payment.refunded_amount, payment.released_amount) == (
            figures["held"], figures["refunded"], figures["released"])
    # ... every attempt recorded, failures and timeouts included, and retried
    attempts = DeliveryAttempt.objects.count()
    assert attempts == ledger["counts"]["requests"]
    assert attempts > 1200
    outcomes = Counter(DeliveryAttempt.objects.values_list("outcome", flat=True))
    assert outcomes["confirmed"] == 1000
    assert outcomes["retry"] == attempts - 1000


def test_sweep_task_delivers_in_order_and_closes_the_settled_case(momo, simulator, order, buyer_user,
                                                                 seller_user):
    # given a resolved case whose hold and refund were never enqueued (a lost Celery message)
    from escrow.tasks import escrow_sweep

    case = file_case(order, buyer_user, amount=300_000)
    services.case_accept_claim(case_id=case.pk, actor=seller_user)
    # when the periodic sweep runs
    escrow_sweep()
    # then both went out, hold first, and the case is closed by the sweep's backstop
    assert [a["type"] for a in simulator.ledger()["applications"]] == ["hold", "refund"]
    assert Counter(EscrowInstruction.objects.values_list("status", flat=True)) == {"confirmed": 2}
    case = Case.objects.get(pk=case.pk)
    assert case.state == State.CLOSED
    assert TimelineEntry.objects.filter(case=case, action="close").count() == 1


def test_a_confirmation_of_another_amount_is_dead_lettered_not_applied(fast_delivery, order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    Payment.objects.get(pk=case.payment_id).partner.__class__.objects.update(base_url="http://p.test")
    [outgoing] = delivery.instructions_claim(limit=1)

    def app(request: httpx.Request):
        return httpx.Response(200, json={"id": outgoing.instruction_id, "status": "confirmed",
                                         "amount": 3_000_000})

    with httpx.Client(transport=httpx.MockTransport(app)) as client:
        result = delivery.instruction_send(outgoing, client=client)
    assert delivery.attempt_record(outgoing=outgoing, result=result) == "dead"
    hold = EscrowInstruction.objects.get(case=case)
    assert (hold.status, hold.last_error) == (
        Status.DEAD, "partner confirmed 3000000 đồng, instructed 300000")
    assert Payment.objects.get(pk=case.payment_id).held_amount == 0

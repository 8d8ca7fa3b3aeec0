"""What the payment partner tells us and a move of the case, on the same case at the same
instant (PostgreSQL row locks): one waits for the other, neither is aborted as a deadlock.

A transition locks case → payment (workflow `_lock`, then `escrow_instruct`); recording a
partner's answer writes a timeline entry on the case, whose foreign key takes a share lock on
the case row. Had it locked the payment first, the two would wait on each other in a cycle.
Each race is run many times, each on a fresh case, because the cycle needs the two
transactions to interleave; before the escrow services took the case first, every test here
lost a transaction to `deadlock detected` within a few rounds."""

from datetime import timedelta
from functools import partial

import pytest
from django.conf import settings
from django.utils import timezone

from cases import services
from cases.models import Case, Payment, State, TimelineEntry
from escrow.delivery import Outgoing, Result
from escrow.models import DeliveryAttempt, EscrowInstruction
from escrow.recording import attempts_record
from escrow.services import chargeback_record, escrow_confirm, escrow_retry
from tests import factories as f
from tests.cases.helpers import file_case
from tests.races import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]
Status = EscrowInstruction.Status
ROUNDS = 25


@pytest.fixture(autouse=True)
def _no_enqueue(settings):
    settings.ESCROW_ENQUEUE_ON_COMMIT = False


def _together(*calls) -> list[str]:
    """What the raced calls raised (a deadlock is an OperationalError; anything else is a bug
    too)."""
    return [repr(outcome) for outcome in race(*calls) if isinstance(outcome, Exception)]


def _filed_case(order, buyer_user) -> Case:
    """A new 300,000 ₫ case on a new paid order of the same buyer and shop: a pending hold."""
    return file_case(f.paid_order(buyer=order.buyer, seller=order.seller), buyer_user)


def _answer(instruction: EscrowInstruction) -> tuple[Outgoing, Result]:
    """A claimed send of `instruction` and the partner's 200 "confirmed" answer to it."""
    token = f"tok{instruction.pk.hex[:8]}"
    EscrowInstruction.objects.filter(pk=instruction.pk).update(
        attempts=1, lease_token=token, lease_until=timezone.now() + timedelta(minutes=5))
    outgoing = Outgoing(instruction_id=str(instruction.pk), payment_id=instruction.payment_id,
                        amount=instruction.amount, attempt=1, lease_token=token, url="", body=b"",
                        secrets=(), case_id=instruction.case_id)  # as the claim fills it
    result = Result(started_at=timezone.now(), latency_ms=3, status_code=200,
                    payload={"id": str(instruction.pk), "status": "confirmed",
                             "partner_reference": f"SIM-{instruction.pk.hex[:6]}"})
    return outgoing, result


def _assert_resolved_with_refund(case: Case) -> None:
    case = Case.objects.get(pk=case.pk)
    assert case.state == State.RESOLVED
    refund = EscrowInstruction.objects.get(case=case, kind="refund")
    assert (refund.amount, refund.status) == (300_000, Status.PENDING)


def test_a_callback_confirmation_and_a_transition_do_not_deadlock(order, buyer_user, seller_user):
    for _ in range(ROUNDS):
        # given a filed case whose hold the partner confirms by callback
        case = _filed_case(order, buyer_user)
        hold = EscrowInstruction.objects.get(case=case)
        # when the callback is recorded while the seller accepts the claim (a refund)
        errors = _together(
            partial(escrow_confirm, instruction_id=hold.pk, partner_reference="CB-REF",
                    amount=300_000, source="callback"),
            partial(services.case_accept_claim, case_id=case.pk, actor=seller_user),
        )
        # then both happened, whichever went first
        assert errors == []
        hold.refresh_from_db()
        assert (hold.status, hold.partner_reference) == (Status.CONFIRMED, "CB-REF")
        _assert_resolved_with_refund(case)
        assert Payment.objects.get(pk=case.payment_id).held_amount == 300_000
        assert TimelineEntry.objects.filter(case=case, action="escrow_confirmed").count() == 1


def test_a_recorded_delivery_and_a_transition_do_not_deadlock(order, buyer_user, seller_user):
    """The worker's path: a DeliveryAttempt row, then the confirmation, in one transaction."""
    for _ in range(ROUNDS):
        case = _filed_case(order, buyer_user)
        outgoing, result = _answer(EscrowInstruction.objects.get(case=case))
        errors = _together(
            partial(attempts_record, [(outgoing, result)]),
            partial(services.case_accept_claim, case_id=case.pk, actor=seller_user),
        )
        assert errors == []
        assert EscrowInstruction.objects.get(pk=outgoing.instruction_id).status == Status.CONFIRMED
        assert DeliveryAttempt.objects.filter(instruction_id=outgoing.instruction_id).count() == 1
        _assert_resolved_with_refund(case)


def test_a_recorded_batch_and_transitions_do_not_deadlock(order, buyer_user, seller_user):
    """The batch path (escrow_confirm_many): two cases' holds recorded together while the
    seller accepts both claims."""
    for _ in range(ROUNDS // 2):
        cases = [_filed_case(order, buyer_user) for _ in range(2)]
        done = [_answer(EscrowInstruction.objects.get(case=case)) for case in cases]
        errors = _together(
            partial(attempts_record, done),
            *[partial(services.case_accept_claim, case_id=case.pk, actor=seller_user)
              for case in cases],
        )
        assert errors == []
        # one transaction for the batch: had it failed, the rows would be recorded one by one
        assert DeliveryAttempt.objects.filter(
            instruction__case__in=cases, outcome="confirmed").count() == 2
        assert EscrowInstruction.objects.filter(case__in=cases, kind="hold",
                                                status=Status.CONFIRMED).count() == 2
        for case in cases:
            _assert_resolved_with_refund(case)


def test_a_chargeback_and_a_transition_do_not_deadlock(order, buyer_user, seller_user):
    for i in range(ROUNDS):
        case = _filed_case(order, buyer_user)
        payment = case.payment
        errors = _together(
            partial(chargeback_record, partner=payment.partner, external_id=f"CB-{i}",
                    payment=payment, amount=100_000, opened_at=timezone.now()),
            partial(services.case_accept_claim, case_id=case.pk, actor=seller_user),
        )
        assert errors == []
        assert Case.objects.get(pk=case.pk).state == State.RESOLVED
        assert payment.chargebacks.get().case_id == case.pk
        # 450,000 paid, 100,000 taken back: the 300,000 refund fits whichever came first
        assert list(EscrowInstruction.objects.filter(case=case, kind="refund")
                    .values_list("amount", "status")) == [(300_000, Status.PENDING)]


def test_a_supervisor_retry_and_a_transition_do_not_deadlock(order, buyer_user, seller_user):
    supervisor = f.supervisor(username="sup")
    for _ in range(ROUNDS):
        case = _filed_case(order, buyer_user)
        hold = EscrowInstruction.objects.get(case=case)
        EscrowInstruction.objects.filter(pk=hold.pk).update(status=Status.DEAD, attempts=3)
        errors = _together(
            partial(escrow_retry, instruction_id=hold.pk, actor=supervisor, reason="thử lại"),
            partial(services.case_accept_claim, case_id=case.pk, actor=seller_user),
        )
        assert errors == []
        assert EscrowInstruction.objects.get(pk=hold.pk).status == Status.PENDING
        _assert_resolved_with_refund(case)

"""The worker records the answers that came back together as one batch: the same outcome for
every row as recording them one by one (exactly once, leases respected), a constant number of
queries per claim and per batch, and one bad row never loses the others."""

import uuid
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Payment, TimelineEntry
from escrow import delivery
from escrow.models import DeliveryAttempt, EscrowInstruction
from escrow.services import escrow_confirm
from tests.escrow.support import point_at
from tests.escrow.test_delivery import bulk_cases, instruct_each
from tests.races import race

pytestmark = pytest.mark.django_db
Status = EscrowInstruction.Status


@pytest.fixture
def momo(simulator, fast_delivery, order):
    return point_at(simulator)


def _send_all(simulator, outgoing, *, fail: bool = False) -> list:
    simulator.configure(fail_rate=1.0 if fail else 0.0)
    with delivery.http_client() as client:
        return [(o, delivery.instruction_send(o, client=client)) for o in outgoing]


def test_a_batch_is_recorded_as_one_by_one_would(momo, simulator, order):
    # given six holds on six payments, claimed together
    instruct_each(bulk_cases(order, 6), kinds=("hold",), amount=100_000)
    claimed = delivery.instructions_claim(limit=6)
    assert len(claimed) == 6
    # and the partner answers: four 200s, two 503s
    done = _send_all(simulator, claimed[:4]) + _send_all(simulator, claimed[4:], fail=True)
    # while a callback confirmed the first one just before the 200 is recorded
    escrow_confirm(instruction_id=claimed[0].instruction_id, partner_reference="from-callback",
                   source="callback")
    # and the lease of the last one passed to another worker (its own lease expired)
    EscrowInstruction.objects.filter(pk=claimed[5].instruction_id).update(lease_token="other")
    # when the answers are recorded together
    outcomes = delivery.attempts_record(done)
    # then every answer is an attempt, with the outcome one by one would give
    assert outcomes == ["confirmed"] * 4 + ["retry"] * 2
    attempts = dict(DeliveryAttempt.objects.values_list("instruction_id", "outcome"))
    assert {str(k): v for k, v in attempts.items()} == {
        o.instruction_id: outcome for (o, _), outcome in zip(done, outcomes, strict=True)}
    rows = {str(r.pk): r for r in EscrowInstruction.objects.all()}
    # the four 200s are confirmed once: the callback's confirmation is not applied again
    assert [rows[o.instruction_id].status for o in claimed] == [Status.CONFIRMED] * 4 + [Status.PENDING] * 2
    assert rows[claimed[0].instruction_id].partner_reference == "from-callback"
    assert TimelineEntry.objects.filter(action="escrow_confirmed").count() == 4
    held = dict(Payment.objects.filter(pk__in=[o.payment_id for o in claimed])
                .values_list("pk", "held_amount"))
    assert held == {o.payment_id: (o.amount if i < 4 else 0) for i, o in enumerate(claimed)}
    # the 503 backs off and frees its lease; the row leased elsewhere is left to its worker
    assert (rows[claimed[4].instruction_id].lease_token, rows[claimed[5].instruction_id].lease_token) == (
        "", "other")
    assert rows[claimed[4].instruction_id].last_error.startswith("HTTP 503")
    # and the partner applied each 200 once
    assert Counter(a["key"] for a in simulator.ledger()["applications"]) == {
        o.instruction_id: 1 for o in claimed[:4]}


def test_one_answer_that_cannot_be_recorded_does_not_lose_the_others(momo, simulator, order):
    # given three claimed holds answered 200, and an answer naming an instruction that is gone
    instruct_each(bulk_cases(order, 3), kinds=("hold",), amount=100_000)
    claimed = delivery.instructions_claim(limit=3)
    done = _send_all(simulator, claimed)
    ghost = delivery.Outgoing(
        instruction_id=str(uuid.uuid4()), payment_id=claimed[0].payment_id, amount=1, attempt=1,
        lease_token="x", url="", body=b"", secrets=())
    ghost_result = delivery.Result(started_at=done[0][1].started_at, latency_ms=1, status_code=200,
                                   payload={"status": "confirmed"})
    # when they are recorded together
    outcomes = delivery.attempts_record([*done[:2], (ghost, ghost_result), done[2]])
    # then the ghost is an error and the three real ones are confirmed, each once
    assert outcomes == ["confirmed", "confirmed", "error", "confirmed"]
    assert Counter(EscrowInstruction.objects.values_list("status", flat=True)) == {"confirmed": 3}
    assert DeliveryAttempt.objects.count() == 3
    assert TimelineEntry.objects.filter(action="escrow_confirmed").count() == 3


def test_claim_and_record_cost_a_constant_number_of_queries(momo, simulator, order):
    # given 10 holds; claims and batches of 2 and of 8
    instruct_each(bulk_cases(order, 10), kinds=("hold",), amount=100_000)

    def queries(fn) -> int:
        with CaptureQueriesContext(connection) as ctx:
            result = fn()
        return len(ctx.captured_queries), result

    claim_2, small = queries(lambda: delivery.instructions_claim(limit=2))
    claim_8, large = queries(lambda: delivery.instructions_claim(limit=8))
    record_2, _ = queries(lambda: delivery.attempts_record(_send_all(simulator, small)))
    record_8, _ = queries(lambda: delivery.attempts_record(_send_all(simulator, large)))
    # then a claim costs the same whatever it takes; a batch adds one timeline entry per row
    assert (len(small), len(large)) == (2, 8)
    assert claim_2 == claim_8 <= 5
    assert record_8 - record_2 == 6
    assert Counter(EscrowInstruction.objects.values_list("status", flat=True)) == {"confirmed": 10}


def test_a_courier_keeps_delivering_across_rounds(momo, simulator, order):
    # given a courier that has delivered everything due
    cases = bulk_cases(order, 4)
    instruct_each(cases[:2], kinds=("hold",))
    with delivery.Courier(concurrency=3) as courier:
        assert courier.round() == Counter({"confirmed": 2})
        # when more instructions are written, the same courier sends them on its next round
        instruct_each(cases[2:], kinds=("hold",))
        assert courier.round() == Counter({"confirmed": 2})
        assert courier.round() == Counter()
    assert len(simulator.ledger()["applications"]) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_batching_apply_each_once_and_keep_each_payments_order(
        settings, simulator, fast_delivery, order):
    """Two couriers (two workers, each with its own connection) claim with SKIP LOCKED and
    record in batches: every instruction is applied once and confirmed once, and a payment's
    refund is never sent before its hold is confirmed."""
    if not settings.USING_POSTGRES:
        pytest.skip("concurrent workers need PostgreSQL's row locks")

    from django.db import transaction

    from escrow.services import escrow_instruct

    point_at(simulator)
    # given 60 payments, each with a hold and then a refund, and a partner failing 30 %
    with transaction.atomic():
        for case in bulk_cases(order, 60):
            escrow_instruct(case=case, kind="hold", amount=100_000, reason="bulk")
            escrow_instruct(case=case, kind="refund", amount=100_000, reason="bulk")
    simulator.configure(fail_rate=0.3)
    # when two workers deliver until nothing is in flight
    def worker():
        with delivery.Courier(concurrency=8) as courier:
            for _ in range(400):
                courier.round()
                if not EscrowInstruction.objects.filter(status__in=EscrowInstruction.IN_FLIGHT).exists():
                    return

    errors = [o for o in race(worker, worker, timeout=120) if isinstance(o, Exception)]
    assert not errors
    # then every instruction was applied once, and confirmed once in odr
    ledger = simulator.ledger()
    assert Counter(Counter(a["key"] for a in ledger["applications"]).values()) == {1: 120}
    assert Counter(EscrowInstruction.objects.values_list("status", flat=True)) == {"confirmed": 120}
    assert TimelineEntry.objects.filter(action="escrow_confirmed").count() == 120
    assert DeliveryAttempt.objects.count() == ledger["counts"]["requests"]
    assert set(Payment.objects.filter(external_id__startswith="BULKPAY")
               .values_list("held_amount", "refunded_amount")) == {(0, 100_000)}
    # and per payment: hold applied before refund, the refund first sent after the hold's confirmation
    kinds = {}
    for application in ledger["applications"]:
        kinds.setdefault(application["reference"], []).append(application["type"])
    assert set(map(tuple, kinds.values())) == {("hold", "refund")}
    for refund in EscrowInstruction.objects.filter(kind="refund"):
        hold = EscrowInstruction.objects.get(payment_id=refund.payment_id, kind="hold")
        first_send = refund.delivery_attempts.order_by("started_at").first().started_at
        assert first_send >= hold.confirmed_at

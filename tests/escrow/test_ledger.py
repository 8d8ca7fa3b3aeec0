"""The refund ledger: promises never exceed what was paid (also under concurrent resolutions on
PostgreSQL), and money a chargeback took back is never refunded again."""


import pytest
from django.db import transaction
from django.utils import timezone

from cases import services
from cases.errors import Conflict
from cases.models import Case, Payment, TimelineEntry
from escrow.models import EscrowInstruction
from escrow.services import chargeback_record, escrow_instruct, escrow_retry
from tests import factories as f
from tests.cases.helpers import file_case
from tests.races import race

Status = EscrowInstruction.Status


@pytest.fixture(autouse=True)
def _no_enqueue(settings):
    settings.ESCROW_ENQUEUE_ON_COMMIT = False


def _instruct(case, kind, amount):
    with transaction.atomic():
        return escrow_instruct(case=Case.objects.select_related("payment").get(pk=case.pk),
                               kind=kind, amount=amount, reason="test")


@pytest.mark.django_db
def test_a_refund_beyond_the_payment_is_refused_and_writes_nothing(order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)  # payment of 450,000 ₫
    _instruct(case, "refund", 300_000)
    before = list(EscrowInstruction.objects.values_list("kind", "amount", "status"))
    with pytest.raises(Conflict) as refused:
        _instruct(case, "release", 150_001)
    assert (refused.value.code, refused.value.extra) == (
        "escrow_overcommitted", {"available": 150_000, "requested": 150_001})
    assert list(EscrowInstruction.objects.values_list("kind", "amount", "status")) == before
    # exactly what is left is fine
    assert _instruct(case, "release", 150_000).amount == 150_000


@pytest.mark.django_db
def test_a_cancelled_instruction_frees_its_money(order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    refund = _instruct(case, "refund", 450_000)
    EscrowInstruction.objects.filter(pk=refund.pk).update(status=Status.CANCELLED)
    assert _instruct(case, "refund", 450_000).status == Status.PENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_resolutions_cannot_refund_the_same_money_twice(settings, order, buyer_user):
    if not settings.USING_POSTGRES:
        pytest.skip("needs PostgreSQL row locks")
    case = file_case(order, buyer_user, amount=300_000)
    outcomes = race(*[lambda: _instruct(case, "refund", 300_000)] * 4)
    results = [getattr(o, "code", repr(o)) if isinstance(o, Exception) else "ok" for o in outcomes]
    assert sorted(results) == ["escrow_overcommitted"] * 3 + ["ok"]
    assert list(EscrowInstruction.objects.filter(kind="refund").values_list("amount", flat=True)) == [300_000]


@pytest.mark.django_db
def test_chargeback_blocks_the_refund_it_already_paid(order, buyer_user, seller_user):
    # given a case and a full chargeback of the 450,000 ₫ payment reported by the partner
    case = file_case(order, buyer_user, amount=300_000)
    payment = case.payment
    chargeback, created = chargeback_record(partner=payment.partner, external_id="CB-9", payment=payment,
                                            amount=450_000, opened_at=timezone.now(), reason="bank")
    assert (created, chargeback.case_id) == (True, case.pk)
    # when the seller accepts the claim (a full refund of 300,000 ₫)
    services.case_accept_claim(case_id=case.pk, actor=seller_user)
    # then no refund goes out: it is written cancelled, with an audit line on the case
    refunds = list(EscrowInstruction.objects.filter(kind="refund")
                   .values_list("amount", "status", "last_error"))
    assert refunds == [(300_000, Status.CANCELLED, "blocked by chargeback")]
    entry = TimelineEntry.objects.get(case=case, action="escrow_blocked_by_chargeback")
    assert entry.data == {"kind": "refund", "amount": 300_000}
    # and the same chargeback reported again changes nothing
    again, created = chargeback_record(partner=payment.partner, external_id="CB-9", payment=payment,
                                       amount=450_000, opened_at=timezone.now())
    assert (again.pk, created) == (chargeback.pk, False)
    assert payment.chargebacks.count() == 1


@pytest.mark.django_db
def test_partial_chargeback_caps_the_refund(order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    chargeback_record(partner=case.payment.partner, external_id="CB-1", payment=case.payment,
                      amount=200_000, opened_at=timezone.now())
    sent = _instruct(case, "refund", 300_000)
    assert sent.amount == 250_000
    rows = sorted(EscrowInstruction.objects.filter(kind="refund").values_list("amount", "status"))
    assert rows == [(50_000, Status.CANCELLED), (250_000, Status.PENDING)]


@pytest.mark.django_db
def test_chargeback_cancels_unsent_refunds_but_not_sent_ones(order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    sent = _instruct(case, "refund", 100_000)
    EscrowInstruction.objects.filter(pk=sent.pk).update(attempts=1)  # maybe applied by the partner
    unsent = _instruct(case, "refund", 200_000)
    chargeback_record(partner=case.payment.partner, external_id="CB-2", payment=case.payment,
                      amount=400_000, opened_at=timezone.now())
    assert dict(EscrowInstruction.objects.filter(kind="refund").values_list("pk", "status")) == {
        sent.pk: Status.PENDING, unsent.pk: Status.CANCELLED}
    entry = TimelineEntry.objects.get(case=case, action="escrow_cancelled_by_chargeback")
    assert entry.data["amount"] == 200_000


@pytest.mark.django_db
def test_chargeback_cancels_a_dead_refund_which_then_cannot_be_retried(order, buyer_user):
    supervisor = f.supervisor(username="sup")
    case = file_case(order, buyer_user, amount=300_000)
    refund = _instruct(case, "refund", 300_000)
    EscrowInstruction.objects.filter(pk=refund.pk).update(status=Status.DEAD, attempts=3)
    chargeback_record(partner=case.payment.partner, external_id="CB-3", payment=case.payment,
                      amount=450_000, opened_at=timezone.now())
    refund.refresh_from_db()
    assert (refund.status, refund.last_error) == (Status.CANCELLED, "cancelled: chargeback")
    with pytest.raises(Conflict) as refused:
        escrow_retry(instruction_id=refund.pk, actor=supervisor, reason="thử lại")
    assert refused.value.code == "not_dead_lettered"
    refund.refresh_from_db()
    assert refund.status == Status.CANCELLED
    assert Payment.objects.get(pk=case.payment_id).refunded_amount == 0

"""Two sweepers at once never act twice: PostgreSQL row locks with SKIP LOCKED, real threads."""

import threading

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction

from cases.models import Case, State, TimelineEntry
from cases.services.deadlines import deadlines_sweep
from escrow.models import EscrowInstruction
from tests.cases.helpers import file_case
from tests.deadlines.helpers import make_order, vn
from tests.races import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

DUE = vn(2026, 12, 10, 9, 0)


def _due_cases(buyer_user, seller_user, n: int) -> list[int]:
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False):
        return [file_case(make_order(buyer_user, seller_user), buyer_user).pk for _ in range(n)]


def _in_threads(n: int, fn) -> list:
    outcomes = race(*[fn] * n)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    return outcomes


def test_four_sweepers_act_on_each_case_exactly_once(buyer_user, seller_user):
    ids = _due_cases(buyer_user, seller_user, 8)
    results = _in_threads(4, lambda: deadlines_sweep(now=DUE))
    assert sum(results) == 8
    assert Case.objects.filter(pk__in=ids, state=State.RESOLVED).count() == 8
    passed = TimelineEntry.objects.filter(case_id__in=ids, action="seller_deadline_passed")
    assert passed.count() == 8
    assert sorted(passed.values_list("case_id", flat=True)) == sorted(ids)
    refunds = EscrowInstruction.objects.filter(case_id__in=ids, kind="refund")
    assert sorted(refunds.values_list("case_id", flat=True)) == sorted(ids)
    assert set(refunds.values_list("amount", flat=True)) == {300_000}
    assert EscrowInstruction.objects.filter(case_id__in=ids, kind="release").count() == 0


def test_a_locked_case_is_skipped_not_waited_for_then_swept(buyer_user, seller_user):
    busy, free = _due_cases(buyer_user, seller_user, 2)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            Case.objects.select_for_update().get(pk=busy)
            locked.set()
            release.wait(timeout=30)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        assert deadlines_sweep(now=DUE) == 1  # returns at once: the busy row is skipped
        assert dict(Case.objects.values_list("pk", "state")) == {
            busy: State.AWAITING_SELLER, free: State.RESOLVED}
    finally:
        release.set()
        holder.join(timeout=30)
    assert deadlines_sweep(now=DUE) == 1
    assert TimelineEntry.objects.filter(action="seller_deadline_passed").count() == 2

"""The claim: due rows in due order, one per payment at a time, and on PostgreSQL a plan that
walks the in-flight index and stops at the limit even for a burst of rows without statistics."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from escrow import delivery
from escrow.models import EscrowInstruction
from escrow.services import escrow_instruct
from tests.escrow.support import point_at
from tests.escrow.test_delivery import bulk_cases, instruct_each

pytestmark = pytest.mark.django_db


def test_claim_takes_the_first_due_row_of_each_payment_only(simulator, fast_delivery, order):
    point_at(simulator)
    # given three payments with a hold then a refund each, the third hold backing off
    cases = bulk_cases(order, 3)
    with transaction.atomic():
        pairs = [(escrow_instruct(case=c, kind="hold", amount=100_000),
                  escrow_instruct(case=c, kind="refund", amount=50_000)) for c in cases]
    EscrowInstruction.objects.filter(pk=pairs[2][0].pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1))
    # when a worker claims as much as it can
    claimed = delivery.instructions_claim(limit=10)
    # then it gets the two due holds, oldest first, and no refund: each waits for its hold
    assert [o.instruction_id for o in claimed] == [str(pairs[0][0].pk), str(pairs[1][0].pk)]
    assert delivery.instructions_claim(limit=10) == []


def test_a_reclaimed_row_is_the_same_request_byte_for_byte(simulator, fast_delivery, order):
    point_at(simulator)
    # given a claimed hold whose worker died (its lease expired)
    instruct_each(bulk_cases(order, 1), kinds=("hold",))
    [first] = delivery.instructions_claim(limit=1)
    EscrowInstruction.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    # when another worker claims it
    [again] = delivery.instructions_claim(limit=1)
    # then it sends the same key and the same bytes, as the next attempt
    assert (again.instruction_id, again.body, again.url) == (first.instruction_id, first.body, first.url)
    assert (first.attempt, again.attempt) == (1, 2)
    assert again.lease_token != first.lease_token


@pytest.mark.postgres
def test_claim_walks_the_in_flight_index_without_statistics(settings, simulator, fast_delivery, order):
    if not settings.USING_POSTGRES:
        pytest.skip("a PostgreSQL plan")
    point_at(simulator)
    # given a burst of 300 new rows the planner has no statistics for
    instruct_each(bulk_cases(order, 300), kinds=("hold",))
    # when the claim's query is planned as the claim runs it
    with transaction.atomic():
        delivery._walk_due_rows_in_order()
        query = (delivery._claimable(timezone.now()).select_for_update(skip_locked=True, of=("self",))
                 .order_by("next_attempt_at").values_list("pk", flat=True)[:8])
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    # then it reads the due rows in order from the partial index and never sorts all of them
    assert "escrow_due_inflight_idx" in plan
    assert "Sort" not in plan

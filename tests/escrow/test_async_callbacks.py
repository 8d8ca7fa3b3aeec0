"""A partner in async mode: 202 now, a signed `escrow.confirmed` callback later (twice, when
it misbehaves) to odr's real HTTP endpoint; the confirmation is applied once."""

import time

import pytest

from cases.models import Payment, TimelineEntry
from escrow import delivery
from escrow.models import EscrowInstruction
from partners.models import InboundEvent
from tests.cases.helpers import file_case
from tests.escrow.support import point_at

Status = EscrowInstruction.Status


def _wait_for(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_async_confirmation_by_duplicate_callbacks_is_applied_once(
        live_server, simulator, fast_delivery, settings, order, buyer_user):
    # given a partner answering 202 and calling back twice with the same signed event
    settings.ESCROW_CALLBACK_BASE_URL = live_server.url
    point_at(simulator)
    # The live server shares one in-memory SQLite connection between its threads, so two
    # simultaneous callbacks would collide there: the duplicate is sent on PostgreSQL only
    # (replays on SQLite are covered by tests/partners/test_inbound.py).
    copies = 2 if settings.USING_POSTGRES else 1
    simulator.configure(mode="async", duplicate_callbacks=copies == 2, callback_delay_ms=50)
    case = file_case(order, buyer_user, amount=300_000)
    # when the worker sends the hold
    assert dict(delivery.deliver_due()) == {"accepted": 1}
    hold = EscrowInstruction.objects.get(case=case)
    assert hold.status == Status.ACCEPTED
    # then the callbacks confirm it, once
    assert _wait_for(lambda: simulator.ledger()["counts"]["callbacks_delivered"] == copies)
    hold.refresh_from_db()
    assert hold.status == Status.CONFIRMED
    assert hold.partner_reference == simulator.ledger()["applications"][0]["partner_reference"]
    assert Payment.objects.get(pk=case.payment_id).held_amount == 300_000
    assert TimelineEntry.objects.filter(case=case, action="escrow_confirmed").count() == 1
    event = InboundEvent.objects.get(type="escrow.confirmed")
    assert (event.status, event.deliveries) == ("processed", copies)
    # and nothing is left to send
    assert dict(delivery.deliver_due()) == {}

"""The sweep acts on each passed deadline once, at the right minute, with the right money."""

from datetime import timedelta

import pytest
import time_machine

from cases import services
from cases.models import Case, Outcome, Shipment, State, TimelineEntry
from cases.services.deadlines import deadlines_sweep
from tests import factories as f
from tests.cases.helpers import case_in, file_case
from tests.deadlines.helpers import actions, escrow_rows, make_order, vn

pytestmark = pytest.mark.django_db


def test_seller_silent_over_tet_2027_resolves_for_buyer_once_at_the_minute(buyer_user, seller_user):
    # Filed Friday 29 Jan 2027, 10:00; the marketplace gives sellers 5 working days. Tết 2027
    # (holidays: Thu 4 – Wed 10 Feb) and two weekends do not count: 1, 2, 3, 11, 12 Feb.
    market = f.PartnerFactory(code="ocop", policy={"seller_response_working_days": 5})
    with time_machine.travel(vn(2027, 1, 29, 10, 0), tick=False) as clock:
        case = file_case(make_order(buyer_user, seller_user, marketplace=market), buyer_user)
        assert case.due_at == vn(2027, 2, 12, 10, 0)

        clock.move_to(vn(2027, 2, 12, 9, 59))
        assert deadlines_sweep() == 0
        case.refresh_from_db()
        assert (case.state, escrow_rows(case)) == (State.AWAITING_SELLER, [("hold", 300_000)])

        clock.move_to(vn(2027, 2, 12, 10, 0))
        assert deadlines_sweep() == 1
        assert deadlines_sweep() == 0  # a second run finds nothing to do

    case.refresh_from_db()
    assert case.state == State.RESOLVED
    assert (case.outcome, case.refund_amount, case.due_at) == (Outcome.PARTIAL_REFUND, 300_000, None)
    assert escrow_rows(case) == [("hold", 300_000), ("refund", 300_000)]  # nothing left to release
    entry = TimelineEntry.objects.get(case=case, action="seller_deadline_passed")
    assert (entry.actor_id, entry.actor_role, entry.from_state, entry.to_state) == (
        None, "system", State.AWAITING_SELLER, State.RESOLVED)
    assert entry.reason == "Quá hạn: người bán không trả lời."


def test_default_window_filed_before_tet_ends_after_it(buyer_user, seller_user):
    with time_machine.travel(vn(2027, 2, 3, 16, 30), tick=False):  # last working day before Tết
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
    assert case.due_at == vn(2027, 2, 15, 16, 30)  # Thu 11, Fri 12, Mon 15


def test_weekend_filing_counts_from_monday(buyer_user, seller_user):
    with time_machine.travel(vn(2026, 11, 28, 10, 0), tick=False):  # Saturday
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
    assert case.due_at == vn(2026, 12, 2, 10, 0)


def test_buyer_silent_after_offer_ends_for_seller(buyer_user, seller_user):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:  # Monday
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
        case = services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund",
                                   amount=100_000)
        assert case.due_at == vn(2026, 12, 10, 9, 0)
        clock.move_to(vn(2026, 12, 10, 8, 59, 59))
        assert deadlines_sweep() == 0
        clock.move_to(vn(2026, 12, 10, 9, 0))
        assert deadlines_sweep() == 1
    case.refresh_from_db()
    assert (case.state, case.outcome, case.refund_amount) == (State.RESOLVED, Outcome.SELLER_FAVOUR, 0)
    assert escrow_rows(case) == [("hold", 300_000), ("release", 300_000)]
    assert actions(case) == ["file", "make_offer", "buyer_deadline_passed"]


def test_return_not_shipped_in_time_ends_for_seller(buyer_user, seller_user):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        case = file_case(make_order(buyer_user, seller_user), buyer_user, remedy="return_and_refund")
        case = services.case_accept_claim(case_id=case.pk, actor=seller_user)
        assert (case.state, case.due_at) == (State.AWAITING_RETURN, vn(2026, 12, 14, 9, 0))  # 7 days
        clock.move_to(vn(2026, 12, 14, 8, 59))
        assert deadlines_sweep() == 0
        clock.move_to(vn(2026, 12, 14, 9, 0))
        assert deadlines_sweep() == 1
    case.refresh_from_db()
    assert (case.state, case.outcome, case.refund_amount) == (State.RESOLVED, Outcome.SELLER_FAVOUR, 0)
    assert escrow_rows(case) == [("hold", 300_000), ("release", 300_000)]


def test_return_delivered_and_seller_silent_refunds_buyer(buyer_user, seller_user):
    ghn = f.carrier()
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        case = file_case(make_order(buyer_user, seller_user), buyer_user, remedy="return_and_refund")
        services.case_accept_claim(case_id=case.pk, actor=seller_user)
        services.case_return_ship(case_id=case.pk, actor=buyer_user, carrier_code=ghn.code,
                                  tracking_number="GHN123")
        clock.move_to(vn(2026, 12, 10, 15, 0))  # Thursday: the carrier delivers the return
        Shipment.objects.filter(tracking_number="GHN123").update(delivered_at=vn(2026, 12, 10, 15, 0))
        case = services.case_return_delivered(case_id=case.pk, delivered_at=vn(2026, 12, 10, 15, 0))
        assert case.due_at == vn(2026, 12, 15, 15, 0)  # Fri, Mon, Tue
        clock.move_to(vn(2026, 12, 15, 14, 59))
        assert deadlines_sweep() == 0
        clock.move_to(vn(2026, 12, 15, 15, 0))
        assert deadlines_sweep() == 1
    case.refresh_from_db()
    assert (case.state, case.outcome, case.refund_amount) == (
        State.RESOLVED, Outcome.RETURN_AND_REFUND, 300_000)
    assert escrow_rows(case) == [("hold", 300_000), ("refund", 300_000)]


def test_appeal_window_passes_and_decision_takes_effect(buyer_user, seller_user, mediator_user,
                                                        supervisor_user):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        order = make_order(buyer_user, seller_user)
        case = case_in(State.DECIDED, order=order, buyer=buyer_user, seller=seller_user,
                       mediator=mediator_user, supervisor=supervisor_user)
        assert case.due_at == vn(2026, 12, 14, 9, 0)  # 5 working days
        clock.move_to(vn(2026, 12, 14, 8, 59))
        assert deadlines_sweep() == 0
        clock.move_to(vn(2026, 12, 14, 9, 0))
        assert deadlines_sweep() == 1
    case.refresh_from_db()
    assert (case.state, case.outcome, case.refund_amount) == (
        State.RESOLVED, Outcome.PARTIAL_REFUND, 150_000)
    assert escrow_rows(case) == [("hold", 300_000), ("refund", 150_000), ("release", 150_000)]


def test_mediation_past_due_is_flagged_not_decided(buyer_user, seller_user, mediator_user,
                                                   supervisor_user):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        order = make_order(buyer_user, seller_user)
        case = case_in(State.IN_MEDIATION, order=order, buyer=buyer_user, seller=seller_user,
                       mediator=mediator_user, supervisor=supervisor_user)
        assert case.due_at == vn(2026, 12, 16, 9, 0)  # 7 working days
        clock.move_to(vn(2026, 12, 16, 9, 0))
        assert deadlines_sweep() == 1
        assert deadlines_sweep() == 0
    case.refresh_from_db()
    assert (case.state, case.sla_breached_at, case.due_at) == (
        State.IN_MEDIATION, vn(2026, 12, 16, 9, 0), None)
    assert escrow_rows(case) == [("hold", 300_000)]
    assert actions(case)[-1] == "sla_breach"


def test_one_failing_case_does_not_stop_the_others(buyer_user, seller_user, monkeypatch):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        first = file_case(make_order(buyer_user, seller_user), buyer_user)
        second = file_case(make_order(buyer_user, seller_user), buyer_user)
        real = services.deadlines.case_deadline_pass

        def flaky(*, case_id, now=None):
            if case_id == first.pk:
                raise RuntimeError("boom")
            return real(case_id=case_id, now=now)

        monkeypatch.setattr("cases.services.deadlines.case_deadline_pass", flaky)
        clock.move_to(vn(2026, 12, 10, 9, 0))
        assert deadlines_sweep() == 1
    states = dict(Case.objects.values_list("pk", "state"))
    assert states == {first.pk: State.AWAITING_SELLER, second.pk: State.RESOLVED}


def test_crash_mid_case_rolls_back_and_the_rerun_acts_once(buyer_user, seller_user, monkeypatch):
    """A sweeper that dies after acting but before committing leaves no trace: the rerun acts
    exactly once (one timeline line, one refund)."""
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        case = file_case(make_order(buyer_user, seller_user), buyer_user)
        real = services.deadlines.case_deadline_pass

        def dies_after(*, case_id, now=None):
            real(case_id=case_id, now=now)
            raise RuntimeError("worker killed")

        monkeypatch.setattr("cases.services.deadlines.case_deadline_pass", dies_after)
        clock.move_to(vn(2026, 12, 10, 9, 0))
        assert deadlines_sweep() == 0
        case.refresh_from_db()
        assert (case.state, escrow_rows(case)) == (State.AWAITING_SELLER, [("hold", 300_000)])
        monkeypatch.undo()
        clock.move_to(vn(2026, 12, 10, 9, 1))
        assert deadlines_sweep() == 1
        assert deadlines_sweep() == 0
    assert actions(case) == ["file", "seller_deadline_passed"]
    assert escrow_rows(case) == [("hold", 300_000), ("refund", 300_000)]


def test_batch_limits_one_run(buyer_user, seller_user):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        for _ in range(3):
            file_case(make_order(buyer_user, seller_user), buyer_user)
        clock.shift(timedelta(days=7))
        assert deadlines_sweep(batch=2) == 2
        assert deadlines_sweep(batch=2) == 1
    assert Case.objects.filter(state=State.RESOLVED).count() == 3


def test_task_is_a_thin_wrapper(buyer_user, seller_user):
    from cases.tasks import deadline_reminders_task, deadlines_sweep_task

    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False) as clock:
        file_case(make_order(buyer_user, seller_user), buyer_user)
        clock.move_to(vn(2026, 12, 9, 9, 0))
        assert deadline_reminders_task.run() == 1
        clock.move_to(vn(2026, 12, 10, 9, 0))
        assert deadlines_sweep_task.run() == 1
    assert deadlines_sweep_task.name == "cases.deadlines_sweep"
    assert deadline_reminders_task.name == "cases.deadline_reminders"

"""Every transition, allowed and refused, for every role in every state.

Given a case in each state (reached through the services), each role is offered exactly the
transitions the workflow gives it; each one it is offered succeeds; each one it is not offered
is refused — 409-style ActionNotAllowed for those who can see the case, NotFound for those who
cannot — and a refusal changes nothing (state, timeline, escrow rows).
"""

import pytest

from cases import roles, services
from cases.errors import ActionNotAllowed, NotFound
from cases.models import Case, State, TimelineEntry
from cases.selectors import case_transitions_for
from escrow.models import EscrowInstruction
from tests import factories as f
from tests.cases.helpers import case_in, png

pytestmark = pytest.mark.django_db

ROLES = ["buyer", "seller", "mediator", "supervisor", "stranger"]

EXPECTED = {
    State.AWAITING_SELLER: {"buyer": {"withdraw"},
                            "seller": {"accept_claim", "make_offer", "contest", "escalate"}},
    State.AWAITING_BUYER: {"buyer": {"accept_offer", "counter_offer", "escalate", "withdraw"}},
    State.AWAITING_RETURN: {"buyer": {"withdraw"}, "seller": {"confirm_return", "dispute_return"}},
    State.IN_MEDIATION: {"buyer": {"withdraw"}, "seller": {"accept_claim"},
                         "mediator": {"decide"}},
    State.DECIDED: {"buyer": {"appeal"}, "seller": {"appeal"}},
    State.UNDER_APPEAL: {"supervisor": {"uphold", "overturn"}},
    State.RESOLVED: {},
    State.CLOSED: {},
}

# Who may see the case in each state (the others get NotFound, never a hint it exists).
MEDIATOR_SEES = {State.IN_MEDIATION, State.DECIDED, State.UNDER_APPEAL}


def _contest(case, user):
    evidence_ids = []
    if roles.is_case_seller(user, case) and case.state == State.AWAITING_SELLER:
        evidence_ids = [str(services.evidence_add(case=case, actor=user, upload=png()).uid)]
    return services.case_contest(case_id=case.pk, actor=user, reason="Hàng đúng mô tả",
                                 evidence_ids=evidence_ids)


CALLS = {
    "accept_claim": lambda c, u: services.case_accept_claim(case_id=c.pk, actor=u),
    "make_offer": lambda c, u: services.case_offer(case_id=c.pk, actor=u, remedy="partial_refund",
                                                   amount=100_000),
    "contest": _contest,
    "accept_offer": lambda c, u: services.case_accept_offer(case_id=c.pk, actor=u),
    "counter_offer": lambda c, u: services.case_counter_offer(
        case_id=c.pk, actor=u, remedy="partial_refund", amount=200_000),
    "escalate": lambda c, u: services.case_escalate(case_id=c.pk, actor=u, reason="Không đồng ý"),
    "withdraw": lambda c, u: services.case_withdraw(case_id=c.pk, actor=u, reason="Rút"),
    "confirm_return": lambda c, u: services.case_confirm_return(case_id=c.pk, actor=u),
    "dispute_return": lambda c, u: services.case_dispute_return(case_id=c.pk, actor=u,
                                                                reason="Hàng trả về bị tráo"),
    "decide": lambda c, u: services.case_decide(case_id=c.pk, actor=u, outcome="full_refund",
                                                refund_amount=0, reasons="Đủ căn cứ"),
    "appeal": lambda c, u: services.case_appeal(case_id=c.pk, actor=u, grounds="Chưa thỏa đáng"),
    "uphold": lambda c, u: services.case_uphold(case_id=c.pk, actor=u, reasons="Đúng"),
    "overturn": lambda c, u: services.case_overturn(case_id=c.pk, actor=u, outcome="full_refund",
                                                    refund_amount=0, reasons="Sai"),
    "accept_settlement": lambda c, u: services.case_accept_settlement(case_id=c.pk, actor=u),
}

# Where each allowed action leads from each state.
TARGETS = {
    ("accept_claim", State.AWAITING_SELLER): State.RESOLVED,
    ("accept_claim", State.IN_MEDIATION): State.RESOLVED,
    ("make_offer", State.AWAITING_SELLER): State.AWAITING_BUYER,
    ("contest", State.AWAITING_SELLER): State.AWAITING_BUYER,
    ("escalate", State.AWAITING_SELLER): State.IN_MEDIATION,
    ("escalate", State.AWAITING_BUYER): State.IN_MEDIATION,
    ("withdraw", State.AWAITING_SELLER): State.RESOLVED,
    ("withdraw", State.AWAITING_BUYER): State.RESOLVED,
    ("withdraw", State.AWAITING_RETURN): State.RESOLVED,
    ("withdraw", State.IN_MEDIATION): State.RESOLVED,
    ("accept_offer", State.AWAITING_BUYER): State.RESOLVED,
    ("counter_offer", State.AWAITING_BUYER): State.AWAITING_SELLER,
    ("confirm_return", State.AWAITING_RETURN): State.RESOLVED,
    ("dispute_return", State.AWAITING_RETURN): State.IN_MEDIATION,
    ("decide", State.IN_MEDIATION): State.DECIDED,
    ("appeal", State.DECIDED): State.UNDER_APPEAL,
    ("uphold", State.UNDER_APPEAL): State.RESOLVED,
    ("overturn", State.UNDER_APPEAL): State.RESOLVED,
}


@pytest.fixture
def cast(order, buyer_user, seller_user, mediator_user, supervisor_user, stranger):
    return {"order": order, "buyer": buyer_user, "seller": seller_user,
            "mediator": mediator_user, "supervisor": supervisor_user, "stranger": stranger}


def _make(state, cast) -> Case:
    return case_in(state, order=cast["order"], buyer=cast["buyer"], seller=cast["seller"],
                   mediator=cast["mediator"], supervisor=cast["supervisor"])


def _snapshot(case: Case) -> tuple:
    case = Case.objects.get(pk=case.pk)
    return (case.state, case.outcome, case.refund_amount, case.due_at,
            TimelineEntry.objects.filter(case=case).count(),
            EscrowInstruction.objects.filter(case=case).count())


@pytest.mark.parametrize("state", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_offered_transitions(state, role, cast):
    case = _make(state, cast)
    offered = set(case_transitions_for(Case.objects.get(pk=case.pk), cast[role]))
    assert offered == EXPECTED[state].get(role, set())


@pytest.mark.parametrize("state", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_refused_transitions_change_nothing(state, role, cast):
    case = _make(state, cast)
    sees = role in ("buyer", "seller", "supervisor") or (role == "mediator" and state in MEDIATOR_SEES)
    for action, call in CALLS.items():
        if action in EXPECTED[state].get(role, set()):
            continue
        before = _snapshot(case)
        with pytest.raises(ActionNotAllowed if sees else NotFound) as refused:
            call(Case.objects.get(pk=case.pk), cast[role])
        assert _snapshot(case) == before, action
        if sees:
            assert refused.value.status == 409
            assert refused.value.extra["allowed_actions"] == sorted(EXPECTED[state].get(role, set()))


@pytest.mark.parametrize(("action", "state"), list(TARGETS))
def test_allowed_transition_moves_and_records(action, state, cast):
    case = _make(state, cast)
    role = next(r for r, acts in EXPECTED[state].items() if action in acts)
    before = TimelineEntry.objects.filter(case=case).count()
    CALLS[action](Case.objects.get(pk=case.pk), cast[role])
    case = Case.objects.get(pk=case.pk)
    assert case.state == TARGETS[(action, state)]
    last = TimelineEntry.objects.filter(case=case, action=action).last()
    assert (last.from_state, last.to_state, last.actor_role) == (state, case.state, role)
    assert last.actor == cast[role]
    assert TimelineEntry.objects.filter(case=case).count() >= before + 1
    if case.state == State.RESOLVED:
        assert case.resolved_at is not None and case.due_at is None
    else:
        assert case.due_at is not None


def test_buyer_may_escalate_after_seller_answered(cast):
    """Back in the seller's court after a counter-offer, the buyer has had an answer."""
    case = _make(State.AWAITING_BUYER, cast)
    services.case_counter_offer(case_id=case.pk, actor=cast["buyer"], remedy="partial_refund",
                                amount=250_000)
    case = Case.objects.get(pk=case.pk)
    assert case.state == State.AWAITING_SELLER
    assert "escalate" in case_transitions_for(case, cast["buyer"])
    assert "escalate" in case_transitions_for(case, cast["seller"])


def test_seller_accepting_counter_offer_settles_on_its_amount(cast):
    case = _make(State.AWAITING_BUYER, cast)
    services.case_counter_offer(case_id=case.pk, actor=cast["buyer"], remedy="partial_refund",
                                amount=250_000)
    case = services.case_accept_claim(case_id=case.pk, actor=cast["seller"])
    assert (case.state, case.outcome, case.refund_amount) == ("resolved", "partial_refund", 250_000)
    moves = sorted(EscrowInstruction.objects.filter(case=case).values_list("kind", "amount"))
    assert moves == [("hold", 300_000), ("refund", 250_000), ("release", 50_000)]


def test_settlement_needs_both_parties(cast):
    case = _make(State.IN_MEDIATION, cast)
    services.case_propose_settlement(case_id=case.pk, actor=cast["mediator"],
                                     remedy="partial_refund", amount=120_000, note="Chia đôi")
    case = services.case_accept_settlement(case_id=case.pk, actor=cast["buyer"])
    assert case.state == State.IN_MEDIATION
    case = services.case_accept_settlement(case_id=case.pk, actor=cast["buyer"])
    assert case.state == State.IN_MEDIATION  # the same party twice is still one acceptance
    with pytest.raises(NotFound):
        services.case_accept_settlement(case_id=case.pk, actor=cast["stranger"])
    case = services.case_accept_settlement(case_id=case.pk, actor=cast["seller"])
    assert (case.state, case.outcome, case.refund_amount) == ("resolved", "partial_refund", 120_000)


def test_appeal_is_reviewed_by_another_supervisor_than_the_decider(cast):
    """A mediator who is also a supervisor may not review their own decision."""
    case = _make(State.UNDER_APPEAL, cast)
    cast["mediator"].groups.add(*cast["supervisor"].groups.all())
    decider = type(cast["mediator"]).objects.get(pk=cast["mediator"].pk)
    with pytest.raises(ActionNotAllowed):
        services.case_uphold(case_id=case.pk, actor=decider, reasons="Tự xét")
    case = services.case_uphold(case_id=case.pk, actor=cast["supervisor"], reasons="Giữ nguyên")
    assert (case.state, case.outcome, case.refund_amount) == ("resolved", "partial_refund", 150_000)
    assert case.appeals.get().result == "upheld"


def test_decision_after_appeal_window_takes_effect(cast):
    case = _make(State.DECIDED, cast)
    Case.objects.filter(pk=case.pk).update(due_at=case.filed_at)
    case = services.case_deadline_pass(case_id=case.pk)
    assert (case.state, case.refund_amount) == ("resolved", 150_000)
    assert services.case_deadline_pass(case_id=case.pk) is None  # acting twice does nothing


@pytest.mark.parametrize(("state", "expected_state", "outcome", "refund"), [
    (State.AWAITING_SELLER, State.RESOLVED, "partial_refund", 300_000),
    (State.AWAITING_BUYER, State.RESOLVED, "seller_favour", 0),
    (State.AWAITING_RETURN, State.RESOLVED, "seller_favour", 0),
])
def test_silence_past_the_deadline_decides(state, expected_state, outcome, refund, cast):
    case = _make(state, cast)
    Case.objects.filter(pk=case.pk).update(due_at=case.filed_at)
    case = services.case_deadline_pass(case_id=case.pk)
    assert (case.state, case.outcome, case.refund_amount) == (expected_state, outcome, refund)
    entry = case.timeline.last()
    assert entry.actor is None and entry.actor_role == "system" and "Quá hạn" in entry.reason


def test_case_without_payment_closes_on_resolution(cast):
    order = f.OrderFactory(buyer__user=cast["buyer"], seller=cast["order"].seller, total=200_000)
    case = services.case_file(actor=cast["buyer"], order_id=order.pk, reason="damaged",
                              desired_outcome="full_refund", claimed_amount=200_000,
                              description="Vỡ")
    case = services.case_withdraw(case_id=case.pk, actor=cast["buyer"])
    assert case.state == State.CLOSED
    assert not EscrowInstruction.objects.filter(case=case).exists()

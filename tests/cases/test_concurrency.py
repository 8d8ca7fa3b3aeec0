"""Many people acting on one case at the same moment (PostgreSQL row locks).

Transitions that exclude each other: exactly one wins, the rest are refused cleanly (409), and
the case, its timeline and its escrow rows are exactly those of the winner. Transitions that may
follow each other: every success starts from the state the previous one left (no lost update)."""


import pytest
from django.conf import settings

from cases import services
from cases.errors import DomainError
from cases.models import Case, State, TimelineEntry
from escrow.models import EscrowInstruction
from tests.cases.helpers import file_case
from tests.races import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

def _race(calls: dict, rounds: int):
    """Fire every call `rounds` times from its own thread, all released at once (tests.races)."""
    names = [name for name in calls for _ in range(rounds)]
    wins, refusals, errors = [], [], []
    for name, outcome in zip(names, race(*(calls[name] for name in names)), strict=True):
        if isinstance(outcome, DomainError):
            refusals.append((name, outcome.status))
        elif isinstance(outcome, Exception):  # anything else is a bug
            errors.append(repr(outcome))
        else:
            wins.append(name)
    return wins, refusals, errors


def test_exclusive_transitions_have_exactly_one_winner(order, buyer_user, seller_user):
    """The seller accepts the claim while the buyer withdraws it, ten times each at once: both
    end the case, so exactly one may happen, and the money moves once."""
    case = file_case(order, buyer_user)
    wins, refusals, errors = _race({
        "accept_claim": lambda: services.case_accept_claim(case_id=case.pk, actor=seller_user),
        "withdraw": lambda: services.case_withdraw(case_id=case.pk, actor=buyer_user),
    }, rounds=10)

    assert errors == []
    assert len(wins) == 1, wins
    assert len(refusals) == 19 and {status for _, status in refusals} == {409}
    case = Case.objects.get(pk=case.pk)
    assert case.state == State.RESOLVED
    timeline = list(TimelineEntry.objects.filter(case=case).values_list("action", "from_state",
                                                                          "to_state"))
    assert timeline == [("file", "", "awaiting_seller"),
                        (wins[0], "awaiting_seller", "resolved")]
    moved = {"accept_claim": ("refund", 300_000), "withdraw": ("release", 300_000)}[wins[0]]
    assert set(EscrowInstruction.objects.filter(case=case).values_list("kind", "amount")) == {
        ("hold", 300_000), moved}


def test_mixed_race_leaves_a_legal_chain(order, buyer_user, seller_user):
    """Every action the parties have, five times each at once: some may follow one another
    legally (an escalation, then a withdrawal), but each success continues from where the last
    one left the case, and the case ends where its timeline says."""
    case = file_case(order, buyer_user)
    wins, refusals, errors = _race({
        "accept_claim": lambda: services.case_accept_claim(case_id=case.pk, actor=seller_user),
        "make_offer": lambda: services.case_offer(case_id=case.pk, actor=seller_user,
                                                  remedy="partial_refund", amount=50_000),
        "escalate": lambda: services.case_escalate(case_id=case.pk, actor=seller_user, reason="x"),
        "withdraw": lambda: services.case_withdraw(case_id=case.pk, actor=buyer_user),
    }, rounds=5)

    assert errors == [] and {status for _, status in refusals} <= {409}
    assert len(wins) + len(refusals) == 20
    case = Case.objects.get(pk=case.pk)
    chain = list(TimelineEntry.objects.filter(case=case).values_list("action", "from_state",
                                                                       "to_state"))
    assert chain[0] == ("file", "", "awaiting_seller")
    assert sorted(a for a, _, _ in chain[1:]) == sorted(wins)
    for (_, _, to_state), (_, from_state, _) in zip(chain, chain[1:], strict=False):
        assert from_state == to_state  # no lost update: each step starts where the last ended
    assert chain[-1][2] == case.state
    holds = EscrowInstruction.objects.filter(case=case, kind="hold").count()
    settled = EscrowInstruction.objects.filter(case=case).exclude(kind="hold").count()
    assert holds == 1 and (settled > 0) == (case.state == State.RESOLVED)


def test_concurrent_filings_of_one_order_make_one_case(order, buyer_user):
    outcomes = race(*[lambda: file_case(order, buyer_user).pk] * 10)
    results = [o for o in outcomes if not isinstance(o, Exception)]
    errors = [o.code if isinstance(o, DomainError) else repr(o)
              for o in outcomes if isinstance(o, Exception)]
    assert len(results) == 1 and errors == ["case_exists"] * 9
    assert Case.objects.filter(order=order).count() == 1
    assert EscrowInstruction.objects.count() == 1

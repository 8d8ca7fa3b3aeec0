"""Many people acting on one case at the same moment (PostgreSQL row locks).

Twenty threads fire every action the parties have in `awaiting_seller` at once: exactly one
wins, the others are refused cleanly (409), and the case, its timeline and its escrow rows are
exactly those of the winning transition."""

import threading

import pytest
from django.conf import settings
from django.db import connection

from cases import services
from cases.errors import DomainError
from cases.models import Case, State, TimelineEntry
from escrow.models import EscrowInstruction
from tests.cases.helpers import file_case

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

OUTCOMES = {  # action -> (state after, escrow rows after: hold + what resolution writes)
    "accept_claim": (State.RESOLVED, {("hold", 300_000), ("refund", 300_000)}),
    "make_offer": (State.AWAITING_BUYER, {("hold", 300_000)}),
    "escalate": (State.IN_MEDIATION, {("hold", 300_000)}),
    "withdraw": (State.RESOLVED, {("hold", 300_000), ("release", 300_000)}),
}


def _race(case_id, buyer, seller, rounds=5):
    calls = {
        "accept_claim": lambda: services.case_accept_claim(case_id=case_id, actor=seller),
        "make_offer": lambda: services.case_offer(case_id=case_id, actor=seller,
                                                  remedy="partial_refund", amount=50_000),
        "escalate": lambda: services.case_escalate(case_id=case_id, actor=seller, reason="x"),
        "withdraw": lambda: services.case_withdraw(case_id=case_id, actor=buyer),
    }
    barrier = threading.Barrier(len(calls) * rounds)
    wins, refusals, errors = [], [], []

    def act(name):
        try:
            barrier.wait()
            calls[name]()
            wins.append(name)
        except DomainError as exc:
            refusals.append((name, exc.status))
        except Exception as exc:  # anything else is a bug
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(name,)) for name in calls for _ in range(rounds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins, refusals, errors


def test_one_transition_wins_and_the_case_stays_legal(order, buyer_user, seller_user):
    case = file_case(order, buyer_user)
    wins, refusals, errors = _race(case.pk, buyer_user, seller_user)

    assert errors == []
    assert len(wins) == 1, wins
    assert len(refusals) == 19 and {status for _, status in refusals} == {409}
    winner = wins[0]
    case = Case.objects.get(pk=case.pk)
    state, escrow = OUTCOMES[winner]
    assert case.state == state
    timeline = list(TimelineEntry.objects.filter(case=case).values_list("action", "from_state",
                                                                          "to_state"))
    assert timeline[0] == ("file", "", "awaiting_seller")
    assert timeline[1:] == [(winner if winner != "make_offer" else "make_offer",
                             "awaiting_seller", state)]
    assert set(EscrowInstruction.objects.filter(case=case).values_list("kind", "amount")) == escrow
    assert EscrowInstruction.objects.filter(case=case).count() == len(escrow)


def test_concurrent_filings_of_one_order_make_one_case(order, buyer_user):
    results, errors = [], []
    barrier = threading.Barrier(10)

    def file_one():
        try:
            barrier.wait()
            results.append(file_case(order, buyer_user).pk)
        except DomainError as exc:
            errors.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=file_one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and errors == ["case_exists"] * 9
    assert Case.objects.filter(order=order).count() == 1
    assert EscrowInstruction.objects.count() == 1

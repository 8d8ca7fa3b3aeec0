"""One request for more time per party, bounded, decided by the other side, on the timeline."""

import pytest
import time_machine

from cases.errors import ActionNotAllowed, Conflict, InvalidInput, NotFound
from cases.models import Case, DeadlineExtension, State
from cases.services.deadlines import deadline_extension_decide, deadline_extension_request, deadlines_sweep
from tests import factories as f
from tests.cases.helpers import case_in, file_case
from tests.conftest import client_for
from tests.deadlines.helpers import actions, make_order, vn

pytestmark = pytest.mark.django_db

MONDAY = vn(2026, 11, 30, 9, 0)  # seller's answer due Thu 3 Dec 09:00


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def case(clock, buyer_user, seller_user):
    return file_case(make_order(buyer_user, seller_user), buyer_user)


def _snapshot(case):
    case = Case.objects.get(pk=case.pk)
    return (case.state, case.due_at, DeadlineExtension.objects.count(), len(actions(case)))


def test_seller_asks_buyer_grants_and_the_deadline_moves(case, seller_user, buyer_user):
    ext = deadline_extension_request(case_id=case.pk, actor=seller_user, days=2,
                                     reason="Chờ kho kiểm tra lô hàng")
    assert (ext.status, ext.requester_role, ext.old_due_at, ext.new_due_at) == (
        "pending", "seller", vn(2026, 12, 3, 9, 0), vn(2026, 12, 7, 9, 0))
    assert Case.objects.get(pk=case.pk).due_at == vn(2026, 12, 3, 9, 0)  # not before it is granted
    ext = deadline_extension_decide(case_id=case.pk, actor=buyer_user, grant=True, reason="Đồng ý")
    assert (ext.status, ext.decider_role) == ("granted", "buyer")
    assert Case.objects.get(pk=case.pk).due_at == vn(2026, 12, 7, 9, 0)
    assert actions(case) == ["file", "extension_request", "extension_grant"]
    assert deadlines_sweep(now=vn(2026, 12, 7, 8, 59)) == 0
    assert deadlines_sweep(now=vn(2026, 12, 7, 9, 0)) == 1


def test_refusal_keeps_the_deadline_and_there_is_no_second_request(case, seller_user, buyer_user):
    deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="Nhân viên nghỉ ốm")
    ext = deadline_extension_decide(case_id=case.pk, actor=buyer_user, grant=False, reason="Không")
    assert ext.status == "refused"
    before = _snapshot(case)
    with pytest.raises(Conflict) as exc:
        deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="Lần nữa")
    assert exc.value.code == "extension_already_requested"
    assert _snapshot(case) == before == (State.AWAITING_SELLER, vn(2026, 12, 3, 9, 0), 1, 3)


@pytest.mark.parametrize("days", [0, 4])
def test_days_bounded_by_policy(case, seller_user, days):
    before = _snapshot(case)
    with pytest.raises(InvalidInput):
        deadline_extension_request(case_id=case.pk, actor=seller_user, days=days, reason="x")
    assert _snapshot(case) == before


def test_only_the_party_the_clock_runs_against_may_ask(case, buyer_user, stranger, mediator_user):
    before = _snapshot(case)
    with pytest.raises(ActionNotAllowed):
        deadline_extension_request(case_id=case.pk, actor=buyer_user, days=1, reason="x")
    with pytest.raises(NotFound):
        deadline_extension_request(case_id=case.pk, actor=stranger, days=1, reason="x")
    assert _snapshot(case) == before


def test_never_beyond_seven_working_days_from_filing(clock, buyer_user, seller_user):
    # Seller window 6 working days: due Tue 8 Dec; the law's limit is Wed 9 Dec 09:00.
    market = f.PartnerFactory(code="ocop", policy={"seller_response_working_days": 6})
    case = file_case(make_order(buyer_user, seller_user, marketplace=market), buyer_user)
    assert case.due_at == vn(2026, 12, 8, 9, 0)
    before = _snapshot(case)
    with pytest.raises(InvalidInput) as exc:
        deadline_extension_request(case_id=case.pk, actor=seller_user, days=2, reason="x")
    assert exc.value.code == "beyond_legal_limit"
    assert _snapshot(case) == before
    ext = deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="x")
    assert ext.new_due_at == vn(2026, 12, 9, 9, 0)


def test_requester_cannot_grant_own_request(case, seller_user):
    deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="x")
    before = _snapshot(case)
    with pytest.raises(ActionNotAllowed):
        deadline_extension_decide(case_id=case.pk, actor=seller_user, grant=True)
    assert _snapshot(case) == before
    assert DeadlineExtension.objects.get().status == "pending"


def test_a_pending_request_does_not_stall_the_case(case, seller_user, buyer_user):
    deadline_extension_request(case_id=case.pk, actor=seller_user, days=2, reason="x")
    assert deadlines_sweep(now=vn(2026, 12, 3, 9, 0)) == 1
    assert DeadlineExtension.objects.get().status == "lapsed"
    with pytest.raises(NotFound):
        deadline_extension_decide(case_id=case.pk, actor=buyer_user, grant=True)
    assert Case.objects.get(pk=case.pk).state == State.RESOLVED


def test_request_after_the_deadline_is_refused(clock, case, seller_user):
    clock.move_to(vn(2026, 12, 3, 9, 0))
    with pytest.raises(Conflict) as exc:
        deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="x")
    assert exc.value.code == "deadline_passed"


def test_buyer_asks_for_time_to_answer_an_offer_seller_grants(clock, case, seller_user, buyer_user):
    from cases import services

    services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund", amount=50_000)
    ext = deadline_extension_request(case_id=case.pk, actor=buyer_user, days=3, reason="Đi công tác")
    ext = deadline_extension_decide(case_id=case.pk, actor=seller_user, grant=True)
    assert (ext.status, ext.new_due_at) == ("granted", vn(2026, 12, 8, 9, 0))  # Thu 3 + 3 working days


def test_mediator_may_decide(clock, buyer_user, seller_user, mediator_user, supervisor_user):
    case = case_in(State.AWAITING_SELLER, order=make_order(buyer_user, seller_user), buyer=buyer_user,
                   seller=seller_user, mediator=mediator_user, supervisor=supervisor_user)
    deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="x")
    ext = deadline_extension_decide(case_id=case.pk, actor=supervisor_user, grant=False, reason="Không")
    assert (ext.status, ext.decider_role) == ("refused", "supervisor")


def test_api(case, seller_user, buyer_user, stranger):
    url = f"/api/v1/cases/{case.pk}/extension/"
    assert client_for(stranger).post(url, {"days": 1, "reason": "x"}).status_code == 404
    response = client_for(seller_user).post(url, {"days": 2, "reason": "Chờ kho"})
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["days"]) == ("pending", 2)
    again = client_for(seller_user).post(url, {"days": 1, "reason": "x"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "extension_already_requested")
    decided = client_for(buyer_user).post(url + "decide/", {"grant": True, "reason": "OK"})
    assert (decided.status_code, decided.json()["status"]) == (200, "granted")
    listed = client_for(buyer_user).get(url).json()
    assert [(e["requester_role"], e["status"]) for e in listed] == [("seller", "granted")]


@pytest.mark.parametrize("with_extension", [False, True])
def test_a_locked_case_knows_about_extensions_as_a_fresh_read_does(
        case, seller_user, buyer_user, with_extension):
    """The lock query says whether extensions exist (no query for them when none do); the
    actions a transition answers with must be what a fresh read of the case gives."""
    from django.db import transaction

    from cases.selectors import case_actions_for, case_get
    from cases.services.workflow import _lock

    if with_extension:
        deadline_extension_request(case_id=case.pk, actor=seller_user, days=1, reason="Chờ kho")
    for user in (seller_user, buyer_user):
        with transaction.atomic():
            locked = _lock(case.pk, user)
            assert case_actions_for(locked, user) == case_actions_for(
                case_get(user=user, case_id=case.pk), user)
    with transaction.atomic():
        buyer_sees = case_actions_for(_lock(case.pk, buyer_user), buyer_user)
    assert ("extension_decide" in buyer_sees) is with_extension

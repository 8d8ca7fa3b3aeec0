"""Automatic assignment: available, speaks the language, under capacity, least loaded,
speciality breaks ties, never a conflict of interest. Manual reassignment rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.errors import Conflict, InvalidInput, NotFound
from cases.models import Case, State, TimelineEntry
from mediators.models import MediatorProfile
from mediators.services import mediator_assign, mediator_assign_pending, mediator_auto_assign
from tests import factories as f
from tests.cases.helpers import case_in, file_case
from tests.races import needs_postgres

pytestmark = pytest.mark.django_db


def med(name: str, *, languages=("vi",), capacity=5, specialities=(), **kw):
    user = f.mediator(username=name)
    MediatorProfile.objects.create(user=user, languages=list(languages), capacity=capacity,
                                   specialities=list(specialities), **kw)
    return user


def escalated(buyer_user, seller_user, *, language="vi", reason="damaged"):
    """A case just escalated to mediation, nobody assigned (on-commit callbacks not run)."""
    seller = f.SellerFactory(staff_users=[seller_user])
    seller_user.__dict__.pop("_odr_seller_ids", None)
    order = f.paid_order(buyer__user=buyer_user, seller=seller)
    case = services.case_file(actor=buyer_user, order_id=order.pk, reason=reason,
                              desired_outcome="full_refund", claimed_amount=300_000,
                              description="Hàng hỏng", language=language)
    return services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")


def load(user, n, buyer_user, seller_user):
    for _ in range(n):
        case = escalated(buyer_user, seller_user)
        services.case_assign(case_id=case.pk, actor=user, mediator=user)


def test_escalation_assigns_automatically_after_commit(buyer_user, seller_user,
                                                       django_capture_on_commit_callbacks):
    lan = med("lan")
    with django_capture_on_commit_callbacks(execute=True):
        case = escalated(buyer_user, seller_user)
    case.refresh_from_db()
    assert case.mediator_id == lan.pk
    entry = TimelineEntry.objects.filter(case=case).last()
    assert (entry.action, entry.actor_role, entry.data) == ("assign", "system",
                                                            {"mediator": lan.pk, "previous": None})
    assert entry.reason.startswith("Phân công tự động: ngôn ngữ vi, đang xử lý 0/5 vụ")


@needs_postgres
def test_an_automatic_assignment_commits_durably(buyer_user, seller_user):
    """A decision people are told about: its transaction waits for the disk even in the
    relay's session, which otherwise does not (cases.events.require_durable_commit)."""
    lan = med("lan")
    case = escalated(buyer_user, seller_user)
    nobody = escalated(buyer_user, seller_user, language="tay")
    with CaptureQueriesContext(connection) as seen:
        assert mediator_auto_assign(case_id=case.pk) == lan
    assert "SET LOCAL synchronous_commit TO on" in [q["sql"] for q in seen.captured_queries]
    with CaptureQueriesContext(connection) as seen:  # nothing decided: nothing to wait for
        assert mediator_auto_assign(case_id=nobody.pk) is None
    assert "SET LOCAL synchronous_commit TO on" not in [q["sql"] for q in seen.captured_queries]


def test_language_of_the_case_decides(buyer_user, seller_user):
    med("vi_only", languages=["vi", "en"])
    tay = med("tay_speaker", languages=["vi", "tay"], capacity=1)
    case = escalated(buyer_user, seller_user, language="tay")
    assert mediator_auto_assign(case_id=case.pk) == tay
    second = escalated(buyer_user, seller_user, language="tay")  # the Tày speaker is now full
    assert mediator_auto_assign(case_id=second.pk) is None
    second.refresh_from_db()
    assert (second.state, second.mediator_id) == (State.IN_MEDIATION, None)  # open queue


def test_least_loaded_then_speciality_then_id(buyer_user, seller_user):
    busy = med("busy")
    load(busy, 2, buyer_user, seller_user)
    a = med("a")
    b = med("b", specialities=["counterfeit"])
    load(a, 1, buyer_user, seller_user)
    load(b, 1, buyer_user, seller_user)
    case = escalated(buyer_user, seller_user, reason="counterfeit")
    assert mediator_auto_assign(case_id=case.pk) == b  # tie on load 1: speciality wins
    case = escalated(buyer_user, seller_user, reason="damaged")
    assert mediator_auto_assign(case_id=case.pk) == a  # a has 1, b now 2, busy 2


def test_decided_cases_do_not_count_against_capacity(buyer_user, seller_user, supervisor_user):
    one = med("one", capacity=1)
    order = f.paid_order(buyer__user=buyer_user, seller=f.SellerFactory(staff_users=[seller_user]))
    seller_user.__dict__.pop("_odr_seller_ids", None)
    case_in(State.DECIDED, order=order, buyer=buyer_user, seller=seller_user, mediator=one,
            supervisor=supervisor_user)
    case = escalated(buyer_user, seller_user)
    assert mediator_auto_assign(case_id=case.pk) == one


def test_unavailable_and_away_are_skipped(buyer_user, seller_user):
    med("off", available=False)
    med("away", away_until=timezone.now() + timezone.timedelta(days=2))
    back = med("back", away_until=timezone.now() - timezone.timedelta(minutes=1))
    case = escalated(buyer_user, seller_user)
    assert mediator_auto_assign(case_id=case.pk) == back


def test_never_a_conflict_of_interest(buyer_user, seller_user):
    case = escalated(buyer_user, seller_user)
    staff = med("staff_of_seller")
    case.seller.staff.add(staff)
    buyer_self = med("buyer_self")
    case.buyer.user = buyer_self
    case.buyer.save()
    declared = med("declared")
    declared.mediator_profile.conflict_sellers.add(case.seller)
    before = list(TimelineEntry.objects.filter(case=case).values_list("pk", flat=True))
    assert mediator_auto_assign(case_id=case.pk) is None
    assert Case.objects.get(pk=case.pk).mediator_id is None
    assert list(TimelineEntry.objects.filter(case=case).values_list("pk", flat=True)) == before
    fair = med("fair")
    assert mediator_assign_pending() == 1
    assert Case.objects.get(pk=case.pk).mediator_id == fair.pk


def test_already_assigned_or_not_in_mediation_is_left_alone(buyer_user, seller_user, supervisor_user):
    med("m")
    case = file_case(f.paid_order(buyer__user=buyer_user,
                                  seller=f.SellerFactory(staff_users=[seller_user])), buyer_user)
    assert mediator_auto_assign(case_id=case.pk) is None
    assert Case.objects.get(pk=case.pk).mediator_id is None


# --- supervisor's manual assignment ---------------------------------------------------------------
def test_supervisor_reassigns_with_reason(buyer_user, seller_user, supervisor_user):
    first, second = med("first"), med("second")
    case = escalated(buyer_user, seller_user)
    mediator_assign(case_id=case.pk, actor=supervisor_user, mediator=first)
    with pytest.raises(InvalidInput):
        mediator_assign(case_id=case.pk, actor=supervisor_user, mediator=second, reason=" ")
    assert Case.objects.get(pk=case.pk).mediator_id == first.pk
    with pytest.raises(Conflict):
        mediator_assign(case_id=case.pk, actor=supervisor_user, mediator=first, reason="lại")
    mediator_assign(case_id=case.pk, actor=supervisor_user, mediator=second, reason="Cân tải")
    entry = TimelineEntry.objects.filter(case=case, action="assign").last()
    assert (entry.actor_id, entry.reason, entry.data) == (
        supervisor_user.pk, "Cân tải", {"mediator": second.pk, "previous": first.pk})


def test_supervisor_cannot_assign_a_conflicted_mediator(buyer_user, seller_user, supervisor_user):
    case = escalated(buyer_user, seller_user)
    declared = med("declared")
    declared.mediator_profile.conflict_sellers.add(case.seller)
    with pytest.raises(InvalidInput) as exc:
        mediator_assign(case_id=case.pk, actor=supervisor_user, mediator=declared)
    assert (exc.value.code, exc.value.extra) == ("conflict_of_interest", {"conflicts": ["declared"]})
    assert Case.objects.get(pk=case.pk).mediator_id is None


def test_no_reassignment_once_decided(buyer_user, seller_user, mediator_user, supervisor_user):
    other = med("other")
    order = f.paid_order(buyer__user=buyer_user, seller=f.SellerFactory(staff_users=[seller_user]))
    case = case_in(State.UNDER_APPEAL, order=order, buyer=buyer_user, seller=seller_user,
                   mediator=mediator_user, supervisor=supervisor_user)
    with pytest.raises(Conflict) as exc:
        mediator_assign(case_id=case.pk, actor=supervisor_user, mediator=other, reason="x")
    assert exc.value.code == "decision_on_record"
    assert Case.objects.get(pk=case.pk).mediator_id == mediator_user.pk


def test_only_supervisors_assign(buyer_user, seller_user, mediator_user):
    other = med("other")
    case = escalated(buyer_user, seller_user)
    with pytest.raises(NotFound):
        mediator_assign(case_id=case.pk, actor=mediator_user, mediator=other)
    assert Case.objects.get(pk=case.pk).mediator_id is None


def test_a_declared_conflict_stops_a_mediator_taking_a_case_from_the_queue(
        api, buyer_user, seller_user):
    from cases.selectors import case_actions_for

    case = escalated(buyer_user, seller_user)
    conflicted = med("conflicted")
    MediatorProfile.objects.get(user=conflicted).conflict_sellers.add(case.seller)
    assert "take" not in case_actions_for(Case.objects.get(pk=case.pk), conflicted)
    response = api(conflicted).post(f"/api/v1/cases/{case.pk}/take/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "conflict_of_interest"
    assert Case.objects.get(pk=case.pk).mediator_id is None

"""Evidence requests with their own deadline, and the appeal path to another supervisor."""

import pytest
import time_machine

from cases import services
from cases.errors import ActionNotAllowed, NotFound
from cases.models import Case, State
from mediators.models import EvidenceRequest
from mediators.selectors import desk_counts, evidence_requests_overdue
from mediators.services import evidence_request_create, evidence_request_fulfil
from tests import factories as f
from tests.cases.helpers import case_in, png
from tests.conftest import client_for
from tests.deadlines.helpers import escrow_rows, make_order, vn

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(buyer_user, seller_user, mediator_user, supervisor_user):
    return {"buyer": buyer_user, "seller": seller_user, "mediator": mediator_user,
            "supervisor": supervisor_user}


def test_evidence_request_fulfilled_by_the_partys_upload(cast, django_capture_on_commit_callbacks):
    with time_machine.travel(vn(2026, 12, 4, 15, 0), tick=False) as clock:  # Friday
        case = case_in(State.IN_MEDIATION, order=make_order(cast["buyer"], cast["seller"]), **cast)
        to_seller = evidence_request_create(case_id=case.pk, actor=cast["mediator"], party="seller",
                                            message="Ảnh chụp phiếu xuất kho", days=2)
        to_buyer = evidence_request_create(case_id=case.pk, actor=cast["mediator"], party="buyer",
                                           message="Video mở hộp", days=1)
        assert (to_seller.due_at, to_buyer.due_at) == (vn(2026, 12, 8, 15, 0), vn(2026, 12, 7, 15, 0))
        clock.move_to(vn(2026, 12, 7, 15, 0))
        assert list(evidence_requests_overdue()) == [to_buyer]
        assert desk_counts()["overdue_evidence_requests"] == 1
        with django_capture_on_commit_callbacks(execute=True):
            evidence = services.evidence_add(case=Case.objects.get(pk=case.pk), actor=cast["seller"],
                                             upload=png())
    to_seller.refresh_from_db()
    to_buyer.refresh_from_db()
    assert (to_seller.fulfilled_at, to_seller.fulfilled_by_id, to_seller.evidence) == (
        vn(2026, 12, 7, 15, 0), cast["seller"].pk, [str(evidence.uid)])
    assert to_buyer.fulfilled_at is None
    with time_machine.travel(vn(2026, 12, 7, 16, 0), tick=False):
        buyer_api = client_for(cast["buyer"])
        seen_by_buyer = buyer_api.get(f"/api/v1/cases/{case.pk}/evidence-requests/").json()
        assert [(r["party"], r["overdue"]) for r in seen_by_buyer] == [("buyer", True)]
        done = buyer_api.post(f"/api/v1/evidence-requests/{to_buyer.pk}/fulfil/",
                              {"note": "Đã gửi qua chat"})
        assert (done.status_code, done.json()["overdue"]) == (200, False)
        assert desk_counts()["overdue_evidence_requests"] == 0


def test_only_the_cases_mediator_requests_evidence(cast, stranger):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False):
        case = case_in(State.IN_MEDIATION, order=make_order(cast["buyer"], cast["seller"]), **cast)
    other = f.mediator(username="other_mediator")
    with pytest.raises(NotFound):  # an assigned case is invisible to other mediators
        evidence_request_create(case_id=case.pk, actor=other, party="buyer", message="x")
    with pytest.raises(ActionNotAllowed):
        evidence_request_create(case_id=case.pk, actor=cast["seller"], party="buyer", message="x")
    response = client_for(stranger).post(f"/api/v1/cases/{case.pk}/evidence-requests/",
                                         {"party": "buyer", "message": "x"})
    assert response.status_code == 404
    assert EvidenceRequest.objects.count() == 0
    created = client_for(cast["mediator"]).post(f"/api/v1/cases/{case.pk}/evidence-requests/",
                                                {"party": "buyer", "message": "Hóa đơn", "days": 3})
    assert created.status_code == 201


def test_other_party_cannot_fulfil(cast):
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False):
        case = case_in(State.IN_MEDIATION, order=make_order(cast["buyer"], cast["seller"]), **cast)
        request = evidence_request_create(case_id=case.pk, actor=cast["mediator"], party="buyer",
                                          message="x")
    with pytest.raises(ActionNotAllowed):
        evidence_request_fulfil(request_id=request.pk, actor=cast["seller"])
    request.refresh_from_db()
    assert request.fulfilled_at is None


def test_appeal_goes_to_a_supervisor_other_than_the_deciding_mediator(cast):
    """The deciding mediator is also a supervisor: they may not review their own decision."""
    from django.contrib.auth.models import Group

    decider = cast["mediator"]
    decider.groups.add(Group.objects.get_or_create(name="supervisors")[0])
    decider.__dict__.pop("_odr_groups", None)
    with time_machine.travel(vn(2026, 12, 7, 9, 0), tick=False):
        case = case_in(State.UNDER_APPEAL, order=make_order(cast["buyer"], cast["seller"]), **cast)
    with pytest.raises(ActionNotAllowed):
        services.case_uphold(case_id=case.pk, actor=decider, reasons="Giữ nguyên")
    case.refresh_from_db()
    assert (case.state, escrow_rows(case)) == (State.UNDER_APPEAL, [("hold", 300_000)])
    case = services.case_overturn(case_id=case.pk, actor=cast["supervisor"], outcome="full_refund",
                                  refund_amount=0, reasons="Ảnh cho thấy hàng hỏng hoàn toàn")
    assert (case.state, case.outcome, case.refund_amount) == (State.RESOLVED, "full_refund", 300_000)
    assert escrow_rows(case) == [("hold", 300_000), ("refund", 300_000)]
    appeal = case.appeals.get()
    assert (appeal.result, appeal.reviewed_by_id) == ("overturned", cast["supervisor"].pk)


def test_the_text_of_an_evidence_request_stays_between_the_mediator_and_that_party(
        api, order, buyer_user, seller_user, mediator_user, supervisor_user):
    case = case_in(State.IN_MEDIATION, order=order, buyer=buyer_user, seller=seller_user,
                   mediator=mediator_user, supervisor=supervisor_user)
    evidence_request_create(case_id=case.pk, actor=mediator_user, party="buyer",
                            message="Ảnh chụp vết nứt trên hộp (riêng người mua)")
    seller_view = api(seller_user).get(f"/api/v1/cases/{case.pk}/").content.decode()
    assert "vết nứt" not in seller_view
    entry = case.timeline.get(action="evidence_request")
    assert (entry.reason, entry.data["party"]) == ("", "buyer")
    assert api(buyer_user).get(f"/api/v1/cases/{case.pk}/evidence-requests/").json()[0][
        "message"] == "Ảnh chụp vết nứt trên hộp (riêng người mua)"

"""Each case action reaches exactly the people who must know, and nobody else."""

from datetime import timedelta

import pytest
from django.db import transaction

from cases import roles, services
from cases.models import State
from cases.services.filing import timeline_record
from notifications.models import Notification
from tests.cases.helpers import case_in, file_case, png
from tests.notifications.conftest import got

pytestmark = pytest.mark.django_db

EVERYONE = {"buyer", "seller", "seller2", "mediator", "mediator2", "supervisor", "stranger"}


def state(cast, name):
    return case_in(name, order=cast.order, buyer=cast.buyer, seller=cast.seller,
                   mediator=cast.mediator, supervisor=cast.supervisor)


def test_filing_tells_every_staff_member_of_the_shop_and_nobody_else(cast, act):
    case = act(file_case, cast.order, cast.buyer)

    assert got("case_filed", case) == {"seller", "seller2"}
    assert got() == {"seller", "seller2"}
    n = Notification.objects.get(recipient=cast.seller)
    assert n.title == f"Khiếu nại mới {case.reference}"
    assert n.url == f"/cases/{case.pk}/"
    assert n.entry_id == case.timeline.get(action="file").pk


@pytest.mark.parametrize(("action", "event"), [
    ("offer", "offer_made"), ("accept", "claim_accepted"), ("contest", "claim_contested"),
])
def test_seller_answers_go_to_the_buyer_only(cast, act, action, event):
    case = file_case(cast.order, cast.buyer)
    if action == "offer":
        act(services.case_offer, case_id=case.pk, actor=cast.seller, remedy="partial_refund",
            amount=150_000)
    elif action == "accept":
        act(services.case_accept_claim, case_id=case.pk, actor=cast.seller)
    else:
        ev = services.evidence_add(case=case, actor=cast.seller, upload=png())
        act(services.case_contest, case_id=case.pk, actor=cast.seller, reason="Hàng giao đủ",
            evidence_ids=[str(ev.uid)])

    assert got() == {"buyer"}
    assert list(Notification.objects.values_list("event", flat=True)) == [event]


def test_offer_body_names_the_amount_in_vnd(cast, act):
    case = file_case(cast.order, cast.buyer)
    act(services.case_offer, case_id=case.pk, actor=cast.seller, remedy="partial_refund", amount=150_000)

    body = Notification.objects.get(recipient=cast.buyer).body
    assert body.startswith("Người bán đề nghị: hoàn tiền một phần, 150.000 ₫. Bạn có thể chấp nhận")


@pytest.mark.parametrize(("action", "event"), [
    ("counter", "counter_offered"), ("accept", "offer_accepted"), ("withdraw", "case_withdrawn"),
])
def test_buyer_moves_go_to_the_seller_staff(cast, act, action, event):
    case = state(cast, State.AWAITING_BUYER)
    if action == "counter":
        act(services.case_counter_offer, case_id=case.pk, actor=cast.buyer, remedy="partial_refund",
            amount=200_000)
    elif action == "accept":
        act(services.case_accept_offer, case_id=case.pk, actor=cast.buyer)
    else:
        act(services.case_withdraw, case_id=case.pk, actor=cast.buyer, reason="Đã thỏa thuận")

    assert got() == {"seller", "seller2"}
    assert set(Notification.objects.values_list("event", flat=True)) == {event}


def test_escalation_without_mediator_reaches_the_pool_and_the_other_party(cast, act):
    case = file_case(cast.order, cast.buyer)
    act(services.case_escalate, case_id=case.pk, actor=cast.seller, reason="Cần hòa giải")

    assert got("case_escalated") == {"mediator", "mediator2"}
    assert got("case_in_mediation") == {"buyer"}
    assert got() == {"mediator", "mediator2", "buyer"}  # not seller2, supervisor, stranger
    assert Notification.objects.get(recipient=cast.mediator).body.endswith(
        "Vụ việc đang chờ hòa giải viên nhận.")


def test_unavailable_mediator_and_a_mediator_who_is_a_party_are_left_out_of_the_pool(cast, act):
    from mediators.models import MediatorProfile

    MediatorProfile.objects.create(user=cast.mediator2, available=False)
    cast.order.seller.staff.add(cast.mediator)  # the mediator also works for this shop
    case = file_case(cast.order, cast.buyer)
    act(services.case_escalate, case_id=case.pk, actor=cast.seller2, reason="Cần hòa giải")

    assert got("case_escalated") == set()
    assert got("case_in_mediation") == {"buyer"}


def test_assignment_tells_the_assigned_mediator_only(cast, act):
    case = file_case(cast.order, cast.buyer)
    services.case_escalate(case_id=case.pk, actor=cast.seller, reason="Cần hòa giải")
    act(services.case_assign, case_id=case.pk, actor=cast.supervisor, mediator=cast.mediator)

    assert got() == {"mediator"}
    assert Notification.objects.get().event == "mediator_assigned"


def test_dispute_return_goes_to_the_assigned_mediator_when_one_exists(cast, act):
    case = state(cast, State.AWAITING_RETURN)
    act(services.case_dispute_return, case_id=case.pk, actor=cast.seller, reason="Hàng trả về bị tráo")

    assert got("case_escalated") == {"mediator", "mediator2"}  # nobody assigned yet: the pool
    assert got("case_in_mediation") == {"buyer"}


@pytest.mark.parametrize(("party", "expected"), [("seller", {"seller", "seller2"}), ("buyer", {"buyer"})])
def test_evidence_request_reaches_the_named_party_only(cast, act, party, expected):
    case = state(cast, State.IN_MEDIATION)

    def request():
        with transaction.atomic():
            timeline_record(case=case, actor=cast.mediator, action="evidence_request",
                            from_state=case.state, data={"party": party, "message": "Ảnh hộp hàng."})

    act(request)
    assert got() == expected
    assert Notification.objects.filter(event="evidence_requested").count() == len(expected)


def test_settlement_proposal_and_decision_reach_both_parties(cast, act):
    case = state(cast, State.IN_MEDIATION)
    act(services.case_propose_settlement, case_id=case.pk, actor=cast.mediator,
        remedy="partial_refund", amount=100_000)
    assert got("settlement_proposed") == {"buyer", "seller", "seller2"}

    act(services.case_decide, case_id=case.pk, actor=cast.mediator, outcome="partial_refund",
        refund_amount=150_000, reasons="Hư hỏng một phần.")
    assert got("decision_made") == {"buyer", "seller", "seller2"}
    assert got() == {"buyer", "seller", "seller2"}  # never the deciding mediator, mediator2, stranger
    body = Notification.objects.get(event="decision_made", recipient=cast.buyer).body
    assert "hoàn tiền một phần, hoàn cho người mua 150.000 ₫" in body


def test_settlement_accepted_by_one_side_tells_the_other_and_the_mediator(cast, act):
    case = state(cast, State.IN_MEDIATION)
    services.case_propose_settlement(case_id=case.pk, actor=cast.mediator, remedy="partial_refund",
                                     amount=100_000)
    act(services.case_accept_settlement, case_id=case.pk, actor=cast.buyer)
    assert got("settlement_accepted_partial") == {"seller", "seller2", "mediator"}

    Notification.objects.all().delete()
    act(services.case_accept_settlement, case_id=case.pk, actor=cast.seller)
    assert got("settlement_accepted") == {"buyer", "seller2", "mediator"}


def test_appeal_goes_to_supervisors_but_not_the_deciding_mediator(cast, act):
    cast.mediator.groups.add(*cast.supervisor.groups.all())  # the mediator is also a supervisor
    case = state(cast, State.DECIDED)
    act(services.case_appeal, case_id=case.pk, actor=cast.seller, grounds="Ảnh không rõ.")

    assert got() == {"supervisor"}
    assert Notification.objects.get().event == "appeal_filed"


def test_appeal_review_reaches_both_parties_and_the_mediator(cast, act):
    case = state(cast, State.UNDER_APPEAL)
    act(services.case_uphold, case_id=case.pk, actor=cast.supervisor, reasons="Đúng quy định.")

    assert got("appeal_decided") == {"buyer", "seller", "seller2", "mediator"}
    assert Notification.objects.get(recipient=cast.buyer).body.startswith(
        "Giám sát viên giữ nguyên quyết định: hoàn tiền một phần, hoàn cho người mua 150.000 ₫.")


@pytest.mark.parametrize(("start", "why"), [
    (State.AWAITING_SELLER, "Người bán không trả lời trong thời hạn."),
    (State.AWAITING_BUYER, "Người mua không trả lời đề nghị trong thời hạn."),
    (State.AWAITING_RETURN, "Người mua không gửi trả hàng trong thời hạn."),
    (State.DECIDED, "Hết thời hạn khiếu nại lại: quyết định của hòa giải viên có hiệu lực."),
])
def test_automatic_outcomes_tell_both_parties_why(cast, act, start, why):
    case = state(cast, start)
    act(services.case_deadline_pass, case_id=case.pk, now=case.due_at + timedelta(minutes=1))

    assert got("deadline_passed") == {"buyer", "seller", "seller2"}
    assert got() == {"buyer", "seller", "seller2"}
    body = Notification.objects.filter(event="deadline_passed", recipient=cast.seller).get().body
    assert body.startswith(f"{why} Kết quả: ")


def test_seller_silence_gives_the_buyer_the_claim(cast, act):
    case = state(cast, State.AWAITING_SELLER)
    act(services.case_deadline_pass, case_id=case.pk, now=case.due_at + timedelta(minutes=1))

    body = Notification.objects.get(event="deadline_passed", recipient=cast.buyer).body
    assert body == ("Người bán không trả lời trong thời hạn. Kết quả: hoàn tiền một phần, 300.000 ₫. "
                    "Vụ việc đã được giải quyết; khoản hoàn 300.000 ₫ sẽ được chuyển qua đối tác "
                    "thanh toán.")


def test_sla_breach_goes_to_supervisors_only(cast, act):
    case = state(cast, State.IN_MEDIATION)
    act(services.case_deadline_pass, case_id=case.pk, now=case.due_at + timedelta(minutes=1))

    assert got() == {"supervisor"}
    n = Notification.objects.get()
    assert (n.event, n.title) == ("sla_breach", f"Quá hạn xử lý {case.reference}")


def test_escrow_confirmation_tells_both_parties_the_amount_in_vnd(cast, act):
    case = state(cast, State.RESOLVED)

    def confirm():
        with transaction.atomic():
            timeline_record(case=case, actor=roles.SYSTEM, action="escrow_confirmed",
                            from_state=case.state, data={"kind": "refund", "amount": 150_000})

    act(confirm)
    assert got() == {"buyer", "seller", "seller2"}
    n = Notification.objects.get(recipient=cast.buyer)
    assert n.body == "Đối tác thanh toán đã hoàn 150.000 ₫ cho người mua. Số tiền: 150.000 ₫."


def test_the_actor_is_never_told_of_their_own_action(cast, act):
    case = file_case(cast.order, cast.buyer)
    act(services.case_escalate, case_id=case.pk, actor=cast.seller, reason="Cần hòa giải")
    act(services.case_assign, case_id=case.pk, actor=cast.mediator, mediator=cast.mediator)  # takes it

    assert not Notification.objects.filter(event="mediator_assigned").exists()


def test_a_stranger_and_an_unassigned_mediator_learn_nothing_of_a_whole_case(cast, act):
    case = act(file_case, cast.order, cast.buyer)
    act(services.case_offer, case_id=case.pk, actor=cast.seller, remedy="partial_refund", amount=100_000)
    act(services.case_escalate, case_id=case.pk, actor=cast.buyer, reason="Không đồng ý")
    act(services.case_assign, case_id=case.pk, actor=cast.supervisor, mediator=cast.mediator)
    pool_notice = set(Notification.objects.filter(recipient=cast.mediator2).values_list("event", flat=True))
    act(services.case_propose_settlement, case_id=case.pk, actor=cast.mediator,
        remedy="partial_refund", amount=120_000)
    act(services.case_decide, case_id=case.pk, actor=cast.mediator, outcome="full_refund",
        refund_amount=0, reasons="Hàng hỏng.")
    act(services.case_appeal, case_id=case.pk, actor=cast.seller, grounds="Không đồng ý.")
    act(services.case_overturn, case_id=case.pk, actor=cast.supervisor, outcome="partial_refund",
        refund_amount=100_000, reasons="Giảm một phần.")

    assert not Notification.objects.filter(recipient=cast.stranger).exists()
    # mediator2 heard of the case only while it sat unassigned in the open queue
    assert pool_notice == {"case_escalated"}
    assert set(Notification.objects.filter(recipient=cast.mediator2).values_list("event", flat=True)) == {
        "case_escalated"}
    assert got() == EVERYONE - {"stranger"}


def test_a_deactivated_staff_member_is_skipped(cast, act):
    cast.seller2.is_active = False
    cast.seller2.save()
    act(file_case, cast.order, cast.buyer)

    assert got() == {"seller"}


def test_a_return_stuck_in_transit_goes_to_mediation_and_says_why(cast, act):
    from tests import factories as f

    f.carrier("ghn")
    case = state(cast, State.AWAITING_RETURN)
    act(services.case_return_ship, case_id=case.pk, actor=cast.buyer, carrier_code="ghn",
        tracking_number="GHN0001")
    assert got("return_shipped") == {"seller", "seller2"}
    assert Notification.objects.get(recipient=cast.seller).body.startswith(
        "Người mua gửi trả hàng qua ghn, mã vận đơn GHN0001.")

    case.refresh_from_db()
    act(services.case_deadline_pass, case_id=case.pk, now=case.due_at + timedelta(minutes=1))

    assert got("deadline_passed") == {"buyer", "seller", "seller2"}
    assert got("case_escalated") == {"mediator", "mediator2"}
    assert Notification.objects.get(event="deadline_passed", recipient=cast.buyer).body == (
        "Hàng hoàn chưa đến nơi trong thời hạn. Kết quả: Vụ việc được chuyển cho hòa giải viên.")


def test_confirming_the_return_tells_the_buyer(cast, act):
    case = state(cast, State.AWAITING_RETURN)
    act(services.case_confirm_return, case_id=case.pk, actor=cast.seller2)

    assert got() == {"buyer"}
    assert Notification.objects.get().event == "return_confirmed"


def test_a_request_for_more_time_goes_to_the_other_side_and_the_answer_to_the_requester(cast, act):
    case = file_case(cast.order, cast.buyer)
    act(services.deadline_extension_request, case_id=case.pk, actor=cast.seller, days=1,
        reason="Nghỉ lễ.")
    assert got("extension_requested") == {"buyer"}
    assert Notification.objects.get(recipient=cast.buyer).body == (
        "Người bán xin thêm 1 ngày làm việc. Lý do: Nghỉ lễ. Vui lòng chấp thuận hoặc từ chối.")

    act(services.deadline_extension_decide, case_id=case.pk, actor=cast.buyer, grant=True)
    assert got("extension_granted") == {"seller"}  # the requester, not the rest of the shop

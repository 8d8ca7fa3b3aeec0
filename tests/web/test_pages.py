"""The web centre page by page: who sees what, what each form does, and what bad input shows."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases import services
from cases.models import Case, Evidence, State
from escrow.models import EscrowInstruction
from tests import factories as f
from tests.cases.helpers import PNG, png
from web.templatetags.odr_web import countdown, vnd

pytestmark = pytest.mark.django_db


# --- sign-in and language ---------------------------------------------------------------------
def test_login_page_is_vietnamese_by_default_and_english_on_request(web):
    assert "Đăng nhập" in web(lang="vi").get("/login/").content.decode()
    assert "Sign in" in web(lang="en").get("/login/").content.decode()


def test_anonymous_is_sent_to_login(web):
    response = web().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_sign_in_with_a_password(web, buyer_user):
    response = web().post("/login/", {"username": "buyer", "password": "pw-odr-2026"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_password_shows_an_error_and_keeps_the_username(web, buyer_user):
    body = web().post("/login/", {"username": "buyer", "password": "nope"}).content.decode()
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in body
    assert 'value="buyer"' in body


# --- the case list ----------------------------------------------------------------------------
def test_countdown_counts_working_days_and_says_overdue():
    now = timezone.now()
    assert countdown(now - timedelta(minutes=1), now)[0] == "quá hạn"
    # Monday 09:00 → Wednesday 09:00 is 2 working days.
    monday = timezone.make_aware(timezone.datetime(2026, 12, 7, 9, 0))
    assert countdown(monday + timedelta(days=2), monday)[0] == "còn 2 ngày làm việc"
    assert vnd(450000) == "450.000 ₫"


def test_buyer_sees_own_case_with_state_and_countdown(web, case, buyer_user):
    body = web(buyer_user).get("/").content.decode()
    assert case.reference in body
    assert "Chờ người bán trả lời" in body
    assert "ngày làm việc" in body


def test_seller_inbox_in_english(web, case, seller_user):
    body = web(seller_user, "en").get("/").content.decode()
    assert "Dispute inbox" in body and case.reference in body
    assert "working day" in body


def test_search_by_reference_and_order(web, case, buyer_user, order):
    client = web(buyer_user)
    assert case.reference in client.get("/", {"queue": "all", "q": case.reference}).content.decode()
    assert case.reference in client.get("/", {"queue": "all", "q": order.external_id}).content.decode()
    assert case.reference not in client.get("/", {"queue": "all", "q": "ODR-2026-999999"}).content.decode()


def test_filters_by_state(web, case, buyer_user):
    client = web(buyer_user)
    assert case.reference in client.get("/", {"queue": "all", "state": "awaiting_seller"}).content.decode()
    assert case.reference not in client.get("/", {"queue": "all", "state": "resolved"}).content.decode()


def test_stranger_sees_nothing(web, case, stranger):
    assert case.reference not in web(stranger).get("/").content.decode()
    assert web(stranger).get(f"/cases/{case.pk}/").status_code == 404
    assert web(stranger).get(f"/cases/{case.pk}/dossier.pdf").status_code == 404


def test_mediator_open_queue_lists_unassigned_mediation(web, case, seller_user, mediator_user):
    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    body = web(mediator_user).get("/?queue=open").content.decode()
    assert case.reference in body


# --- filing -----------------------------------------------------------------------------------
def _filing(order, **over):
    data = {"order": order.pk, "reason": "damaged", "desired_outcome": "full_refund",
            "claimed_amount": "300000", "description": "Hộp chè bị móp méo.",
            "files": [SimpleUploadedFile("hop-che.png", PNG, content_type="image/png")]}
    data.update(over)
    return data


def test_buyer_files_a_complaint_with_a_photo(web, order, buyer_user):
    response = web(buyer_user).post("/cases/new/", _filing(order))
    case = Case.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.state == State.AWAITING_SELLER and case.claimed_amount == 300_000
    evidence = Evidence.objects.get(case=case)
    assert evidence.content_type == "image/png" and evidence.original_name == "hop-che.png"
    assert EscrowInstruction.objects.filter(case=case, kind="hold", amount=300_000).exists()


def test_amount_above_paid_shows_field_error_in_vietnamese_and_keeps_input(web, order, buyer_user):
    response = web(buyer_user).post("/cases/new/", _filing(order, claimed_amount="999999"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "Tối đa bằng số tiền bạn đã trả: 450.000 ₫." in body
    assert "Hộp chè bị móp méo." in body and 'value="999999"' in body
    assert not Case.objects.exists()


def test_same_error_in_english(web, order, buyer_user):
    body = web(buyer_user, "en").post("/cases/new/", _filing(order, claimed_amount="999999")
                                       ).content.decode()
    assert "At most what you paid: 450.000 ₫." in body


def test_service_refusal_lands_on_its_field_translated(web, buyer_user):
    """Not yet delivered: the service refuses 'damaged'; its message shows next to the reason."""
    undelivered = f.paid_order(buyer__user=buyer_user, delivered_at=None)
    body = web(buyer_user, "en").post("/cases/new/", _filing(undelivered)).content.decode()
    assert "The order has not been delivered yet" in body
    assert not Case.objects.exists()


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_filed(web, order, buyer_user):
    fake = SimpleUploadedFile("virus.png", b"MZ\x90\x00" + b"\x00" * 200, content_type="image/png")
    response = web(buyer_user).post("/cases/new/", _filing(order, files=[fake]))
    assert response.status_code == 400
    assert "Chỉ nhận ảnh" in response.content.decode()
    assert not Case.objects.exists()


# --- actions on the case page -----------------------------------------------------------------
def test_case_page_shows_records_and_exactly_the_allowed_actions(web, case, seller_user):
    body = web(seller_user).get(f"/cases/{case.pk}/").content.decode()
    for action in ("accept_claim", "make_offer", "contest", "add_evidence"):
        assert f"/do/{action}/" in body
    assert "/do/withdraw/" not in body and "/do/escalate/" in body
    assert "MOMO" in body and "Chè Hoành Bồ 500g" in body


def test_seller_offers_partial_refund(web, case, seller_user):
    response = web(seller_user).post(f"/cases/{case.pk}/do/make_offer/",
                                     {"make_offer-remedy": "partial_refund",
                                      "make_offer-amount": "120000", "make_offer-note": "Xin lỗi"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.AWAITING_BUYER and case.open_offer_amount == 120_000


def test_offer_above_claim_is_refused_with_field_error_and_typed_values(web, case, seller_user):
    response = web(seller_user, "en").post(f"/cases/{case.pk}/do/make_offer/",
                                           {"make_offer-remedy": "partial_refund",
                                            "make_offer-amount": "900000",
                                            "make_offer-note": "Ghi chú của tôi"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Enter an amount from 1 to 300.000 ₫" in body
    assert "Ghi chú của tôi" in body and 'value="900000"' in body
    case.refresh_from_db()
    assert case.state == State.AWAITING_SELLER


def test_contest_needs_evidence_and_works_with_a_photo(web, case, seller_user):
    client = web(seller_user)
    response = client.post(f"/cases/{case.pk}/do/contest/", {"contest-reason": "Hàng đóng gói kỹ"})
    assert response.status_code == 400
    assert "ít nhất một bằng chứng" in response.content.decode()
    response = client.post(f"/cases/{case.pk}/do/contest/",
                           {"contest-reason": "Hàng đóng gói kỹ", "contest-files": [png("dong-goi.png")]})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.AWAITING_BUYER


def test_action_not_offered_is_refused_and_nothing_changes(web, case, buyer_user):
    response = web(buyer_user).post(f"/cases/{case.pk}/do/accept_claim/", {})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.AWAITING_SELLER


def test_buyer_escalates_needs_a_reason(web, case, seller_user, buyer_user):
    services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund", amount=50_000)
    client = web(buyer_user)
    response = client.post(f"/cases/{case.pk}/do/escalate/", {"escalate-reason": ""})
    assert response.status_code == 400 and "Vui lòng nêu lý do." in response.content.decode()
    response = client.post(f"/cases/{case.pk}/do/escalate/", {"escalate-reason": "Quá ít"})
    case.refresh_from_db()
    assert case.state == State.IN_MEDIATION


def test_return_shipment_registered(web, order, buyer_user, seller_user, carrier):
    case = services.case_file(actor=buyer_user, order_id=order.pk, reason="damaged",
                              desired_outcome="return_and_refund", claimed_amount=450_000,
                              description="Hỏng")
    services.case_accept_claim(case_id=case.pk, actor=seller_user)
    response = web(buyer_user).post(f"/cases/{case.pk}/do/return_ship/",
                                    {"return_ship-carrier": "ghn",
                                     "return_ship-tracking_number": "GHN123"})
    assert response.status_code == 302
    body = web(seller_user).get(f"/cases/{case.pk}/").content.decode()
    assert "GHN123" in body and "/do/confirm_return/" in body


def test_supervisor_assigns_then_mediator_decides_and_refund_shows(
        web, case, seller_user, mediator_user, supervisor_user):
    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    response = web(supervisor_user).post(f"/cases/{case.pk}/do/assign/",
                                         {"assign-mediator": mediator_user.pk})
    assert response.status_code == 302
    client = web(mediator_user)
    response = client.post(f"/cases/{case.pk}/do/decide/",
                           {"decide-outcome": "partial_refund", "decide-refund_amount": "",
                            "decide-reasons": "Một phần"})
    assert response.status_code == 400
    assert "Nhập số tiền từ 1 đến 300.000 ₫" in response.content.decode()
    response = client.post(f"/cases/{case.pk}/do/decide/",
                           {"decide-outcome": "full_refund", "decide-reasons": "Ảnh cho thấy hỏng"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.DECIDED


def test_evidence_served_inline_only_to_people_of_the_case(web, case, buyer_user, stranger):
    evidence = services.evidence_add(case=case, actor=buyer_user, upload=png())
    ok = web(buyer_user).get(f"/evidence/{evidence.uid}/")
    assert ok.status_code == 200 and ok["Content-Type"] == "image/png"
    assert web(stranger).get(f"/evidence/{evidence.uid}/").status_code == 404


def test_live_partial_renders_the_header(web, case, buyer_user):
    body = web(buyer_user).get(f"/cases/{case.pk}/live/").content.decode()
    assert 'id="case-state"' in body and "<html" not in body


# --- dossier ----------------------------------------------------------------------------------
def test_dossier_is_a_pdf_with_an_embedded_vietnamese_font(web, case, buyer_user):
    services.evidence_add(case=case, actor=buyer_user, upload=png())
    response = web(buyer_user).get(f"/cases/{case.pk}/dossier.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF") and b"DejaVu" in pdf and len(pdf) > 5000


# --- fixed query counts and the chat's unread badge ---------------------------------------------
def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_case_list_query_count_does_not_grow_with_cases(web, buyer_user, seller_user):
    seller = f.SellerFactory(staff_users=[seller_user])
    first = f.paid_order(buyer__user=buyer_user, seller=seller)
    services.case_file(actor=buyer_user, order_id=first.pk, reason="damaged",
                       desired_outcome="full_refund", claimed_amount=100_000, description="x")
    client = web(seller_user)
    one = _queries(client, "/")
    for _ in range(5):
        o = f.paid_order(buyer__user=buyer_user, seller=seller)
        services.case_file(actor=buyer_user, order_id=o.pk, reason="damaged",
                           desired_outcome="full_refund", claimed_amount=100_000, description="x")
    assert _queries(client, "/") == one


def test_case_page_query_count_does_not_grow_with_evidence(web, case, buyer_user):
    client = web(buyer_user)
    services.evidence_add(case=case, actor=buyer_user, upload=png())
    one = _queries(client, f"/cases/{case.pk}/")
    for i in range(4):
        services.evidence_add(case=case, actor=buyer_user, upload=png(f"a{i}.png"))
    assert _queries(client, f"/cases/{case.pk}/") == one


def test_unread_chat_count_on_the_list(web, case, buyer_user, seller_user):
    from mediation.services import chat_post

    chat_post(case=case, author=seller_user, body="Chào chị, shop xem lại ngay.")
    body = web(buyer_user).get("/").content.decode()
    assert 'class="unread"' in body and "💬 1" in body


# --- the rest of the workflow through the pages -------------------------------------------------
def test_buyer_counter_offers_then_seller_accepts_it(web, case, buyer_user, seller_user):
    services.case_offer(case_id=case.pk, actor=seller_user, remedy="partial_refund", amount=50_000)
    response = web(buyer_user).post(f"/cases/{case.pk}/do/counter_offer/", {
        "counter_offer-remedy": "partial_refund", "counter_offer-amount": "200000"})
    assert response.status_code == 302
    web(seller_user).post(f"/cases/{case.pk}/do/accept_claim/", {"accept_claim-reason": "Đồng ý"})
    case.refresh_from_db()
    assert case.state == State.RESOLVED and case.refund_amount == 200_000


def test_buyer_accepts_offer_and_withdraws_elsewhere(web, case, buyer_user, seller_user):
    services.case_offer(case_id=case.pk, actor=seller_user, remedy="replacement", amount=0)
    body = web(buyer_user).get(f"/cases/{case.pk}/").content.decode()
    assert "Đổi hàng mới" in body and "/do/accept_offer/" in body
    web(buyer_user).post(f"/cases/{case.pk}/do/accept_offer/", {})
    case.refresh_from_db()
    assert case.state == State.RESOLVED and case.outcome == "replacement"


def test_settlement_needs_both_parties(web, case, buyer_user, seller_user, mediator_user):
    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    web(mediator_user).post(f"/cases/{case.pk}/do/take/", {})
    web(mediator_user).post(f"/cases/{case.pk}/do/propose_settlement/", {
        "propose_settlement-remedy": "partial_refund", "propose_settlement-amount": "150000",
        "propose_settlement-note": "Chia đôi"})
    web(buyer_user).post(f"/cases/{case.pk}/do/accept_settlement/", {})
    case.refresh_from_db()
    assert case.state == State.IN_MEDIATION
    assert "/do/accept_settlement/" not in web(buyer_user).get(f"/cases/{case.pk}/").content.decode()
    web(seller_user).post(f"/cases/{case.pk}/do/accept_settlement/", {})
    case.refresh_from_db()
    assert case.state == State.RESOLVED and case.refund_amount == 150_000


def test_appeal_and_overturn(web, case, buyer_user, seller_user, mediator_user, supervisor_user):
    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    services.case_assign(case_id=case.pk, actor=mediator_user, mediator=mediator_user)
    services.case_decide(case_id=case.pk, actor=mediator_user, outcome="seller_favour",
                         refund_amount=0, reasons="Không đủ bằng chứng")
    response = web(buyer_user).post(f"/cases/{case.pk}/do/appeal/", {"appeal-grounds": ""})
    assert response.status_code == 400 and "Vui lòng nêu căn cứ." in response.content.decode()
    web(buyer_user).post(f"/cases/{case.pk}/do/appeal/", {"appeal-grounds": "Có ảnh mới"})
    body = web(supervisor_user).get("/?queue=appeals").content.decode()
    assert case.reference in body
    web(supervisor_user).post(f"/cases/{case.pk}/do/overturn/", {
        "overturn-outcome": "partial_refund", "overturn-refund_amount": "100000",
        "overturn-reasons": "Ảnh mới cho thấy hư hỏng"})
    case.refresh_from_db()
    assert case.state == State.RESOLVED and case.refund_amount == 100_000


def test_seller_disputes_the_returned_item(web, order, buyer_user, seller_user):
    case = services.case_file(actor=buyer_user, order_id=order.pk, reason="damaged",
                              desired_outcome="return_and_refund", claimed_amount=450_000,
                              description="Hỏng")
    services.case_accept_claim(case_id=case.pk, actor=seller_user)
    web(seller_user).post(f"/cases/{case.pk}/do/dispute_return/",
                          {"dispute_return-reason": "Hàng hoàn không phải hàng đã gửi"})
    case.refresh_from_db()
    assert case.state == State.IN_MEDIATION


def test_buyer_adds_evidence_and_a_wrong_file_is_explained(web, case, buyer_user):
    client = web(buyer_user, "en")
    response = client.post(f"/cases/{case.pk}/do/add_evidence/", {
        "add_evidence-files": [SimpleUploadedFile("x.txt", b"hello", content_type="text/plain")]})
    assert response.status_code == 400
    assert "Only images (JPEG, PNG, WebP, GIF), PDF or video" in response.content.decode()
    client.post(f"/cases/{case.pk}/do/add_evidence/", {"add_evidence-files": [png()],
                                                      "add_evidence-caption": "Mặt hộp"})
    assert Evidence.objects.filter(case=case, caption="Mặt hộp").count() == 1


def test_dossier_with_chat_decision_and_decomposed_text(web, order, buyer_user, seller_user,
                                                        mediator_user):
    import unicodedata

    from mediation.services import chat_post

    case = services.case_file(actor=buyer_user, order_id=order.pk, reason="damaged",
                              desired_outcome="full_refund", claimed_amount=300_000,
                              description=unicodedata.normalize("NFD", "Hộp chè bị móp, ẩm mốc."))
    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    services.case_assign(case_id=case.pk, actor=mediator_user, mediator=mediator_user)
    chat_post(case=case, author=buyer_user, body="Chào anh")
    chat_post(case=case, author=mediator_user, body="Riêng với shop", audience="seller")
    services.case_decide(case_id=case.pk, actor=mediator_user, outcome="full_refund",
                         refund_amount=0, reasons="Đủ căn cứ")
    for user in (buyer_user, seller_user, mediator_user):
        response = web(user).get(f"/cases/{case.pk}/dossier.pdf")
        assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_staff_search_by_shop_name(web, case, supervisor_user, buyer_user):
    name = case.seller.name
    assert case.reference in web(supervisor_user).get("/", {"queue": "all", "q": name[:8]}).content.decode()
    assert case.reference not in web(buyer_user).get("/", {"queue": "all", "q": name[:8]}).content.decode()


@pytest.mark.parametrize("who", ["buyer_user", "seller_user", "mediator_user", "supervisor_user"])
def test_rendered_actions_are_exactly_case_actions_for(request, web, case, seller_user, who):
    import re as _re

    from cases import selectors

    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    user = request.getfixturevalue(who)
    fresh = selectors.case_get(user=user, case_id=case.pk)
    expected = set(selectors.case_actions_for(fresh, user))
    body = web(user).get(f"/cases/{case.pk}/").content.decode()
    rendered = set(_re.findall(rf"/cases/{case.pk}/do/([a-z_]+)/", body))
    assert rendered == expected


def test_seller_asks_for_more_time_and_the_buyer_grants_it(web, case, seller_user, buyer_user):
    case.refresh_from_db()
    due = case.due_at
    body = web(seller_user).get(f"/cases/{case.pk}/").content.decode()
    assert "/do/extension_request/" in body and "Xin gia hạn" in body
    refused = web(seller_user).post(f"/cases/{case.pk}/do/extension_request/",
                                    {"extension_request-days": "2", "extension_request-reason": ""})
    assert refused.status_code == 400 and "Vui lòng nêu lý do" in refused.content.decode()
    asked = web(seller_user).post(f"/cases/{case.pk}/do/extension_request/",
                                  {"extension_request-days": "2",
                                   "extension_request-reason": "Chờ kho kiểm hàng"})
    assert asked.status_code == 302
    assert "/do/extension_decide/" in web(buyer_user).get(f"/cases/{case.pk}/").content.decode()
    granted = web(buyer_user).post(f"/cases/{case.pk}/do/extension_decide/",
                                   {"extension_decide-decision": "grant"})
    assert granted.status_code == 302
    case.refresh_from_db()
    assert case.due_at > due
    assert list(case.timeline.values_list("action", flat=True))[-2:] == [
        "extension_request", "extension_grant"]


def test_mediator_requests_evidence_from_the_seller(web, case, seller_user, mediator_user,
                                                    supervisor_user):
    services.case_escalate(case_id=case.pk, actor=seller_user, reason="Cần hòa giải")
    services.case_assign(case_id=case.pk, actor=supervisor_user, mediator=mediator_user)
    client = web(mediator_user)
    assert "/do/evidence_request/" in client.get(f"/cases/{case.pk}/").content.decode()
    response = client.post(f"/cases/{case.pk}/do/evidence_request/",
                           {"evidence_request-party": "seller",
                            "evidence_request-message": "Ảnh đóng gói trước khi giao",
                            "evidence_request-days": "3"})
    assert response.status_code == 302
    request = case.evidence_requests.get()
    assert (request.party, request.message) == ("seller", "Ảnh đóng gói trước khi giao")


def test_the_page_title_is_plain_text(web, case, supervisor_user, mediator_user):
    from mediators.models import MediatorProfile

    MediatorProfile.objects.create(user=mediator_user, languages=["vi"])
    body = web(supervisor_user).get("/").content.decode()
    title = body.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title and "Vụ việc" in title
    assert body.count('id="wl-h"') == 1  # the mediators' workload table, once, in the page

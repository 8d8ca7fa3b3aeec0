"""The REST API: filing, validation, visibility for every role on every endpoint, evidence."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.api.views import ACTIONS
from cases.models import Case, Evidence, State, TimelineEntry
from escrow.models import EscrowInstruction
from tests import factories as f
from tests.cases.helpers import PNG, case_in, file_case, png

pytestmark = pytest.mark.django_db


def filing(order, **over):
    return {"order": order.pk, "reason": "damaged", "desired_outcome": "full_refund",
            "claimed_amount": 300_000, "description": "Hộp chè bị móp", **over}


def test_buyer_files_a_case_and_the_amount_is_held(api, order, buyer_user):
    response = api(buyer_user).post("/api/v1/cases/", filing(order), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["id"])
    assert body["reference"] == f"ODR-{timezone.localtime(case.filed_at).year}-{case.pk:06d}"
    assert body["state"] == "awaiting_seller"
    assert body["actions"] == ["add_evidence", "withdraw"]
    assert response["Location"] == f"/api/v1/cases/{case.pk}/"
    detail = api(buyer_user).get(response["Location"]).json()
    assert detail["payment"]["partner"] == "momo"
    assert [t["action"] for t in detail["timeline"]] == ["file"]
    hold = EscrowInstruction.objects.get(case=case)
    assert (hold.kind, hold.amount, hold.status) == ("hold", 300_000, "pending")


@pytest.mark.parametrize(("field", "value", "code"), [
    ("claimed_amount", 450_001, "invalid"),
    ("claimed_amount", 0, "invalid"),
    ("claimed_amount", -5, "invalid"),
    ("claimed_amount", "abc", "invalid"),
    ("reason", "bored", "invalid"),
    ("desired_outcome", "money", "invalid"),
    ("description", "", "invalid"),
])
def test_bad_filing_is_a_400_with_field_messages(api, order, buyer_user, field, value, code):
    response = api(buyer_user).post("/api/v1/cases/", filing(order, **{field: value}), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and field in error["fields"] and error["fields"][field][0]
    assert not Case.objects.exists() and not EscrowInstruction.objects.exists()


def test_item_complaint_before_delivery_is_refused(api, buyer_user, seller_user):
    order = f.paid_order(buyer__user=buyer_user, delivered_at=None,
                         expected_delivery_at=timezone.now() + timedelta(days=2))
    response = api(buyer_user).post("/api/v1/cases/", filing(order), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_yet_eligible"
    early = api(buyer_user).post("/api/v1/cases/", filing(order, reason="not_received"),
                                 format="json")
    assert early.status_code == 400 and "reason" in early.json()["error"]["fields"]
    assert not Case.objects.exists()


def test_not_received_allowed_after_expected_delivery_and_grace(api, buyer_user):
    order = f.paid_order(buyer__user=buyer_user, delivered_at=None,
                         expected_delivery_at=timezone.now() - timedelta(days=3))
    response = api(buyer_user).post("/api/v1/cases/", filing(order, reason="not_received"),
                                    format="json")
    assert response.status_code == 201


def test_filing_window_after_delivery_closes(api, buyer_user):
    order = f.paid_order(buyer__user=buyer_user, delivered_at=timezone.now() - timedelta(days=16))
    response = api(buyer_user).post("/api/v1/cases/", filing(order), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "filing_window_closed"


def test_one_open_case_per_order(api, order, buyer_user):
    assert api(buyer_user).post("/api/v1/cases/", filing(order), format="json").status_code == 201
    again = api(buyer_user).post("/api/v1/cases/", filing(order), format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_exists"
    assert Case.objects.count() == 1


def test_someone_elses_order_looks_missing(api, order, stranger):
    response = api(stranger).post("/api/v1/cases/", filing(order), format="json")
    assert response.status_code == 404
    assert not Case.objects.exists()


def test_forbidden_transition_is_409_with_allowed_actions(api, order, buyer_user):
    case = file_case(order, buyer_user)
    response = api(buyer_user).post(f"/api/v1/cases/{case.pk}/accept-claim/", {}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "action_not_allowed"
    assert error["allowed_actions"] == ["withdraw"] and error["state"] == "awaiting_seller"


def test_a_dispute_end_to_end_over_http(api, order, buyer_user, seller_user, mediator_user):
    buyer, seller, mediator = api(buyer_user), api(seller_user), api(mediator_user)
    case_id = buyer.post("/api/v1/cases/", filing(order), format="json").json()["id"]
    r = seller.post(f"/api/v1/cases/{case_id}/offer/",
                    {"remedy": "partial_refund", "amount": 100_000, "note": "Giảm giá"},
                    format="json")
    assert r.status_code == 200 and r.json()["state"] == "awaiting_buyer"
    r = buyer.post(f"/api/v1/cases/{case_id}/escalate/", {"reason": "Quá ít"}, format="json")
    assert r.json()["state"] == "in_mediation"
    assert mediator.get("/api/v1/cases/?queue=open").json()["count"] == 1
    r = mediator.post(f"/api/v1/cases/{case_id}/take/", {}, format="json")
    assert r.status_code == 200 and r.json()["mediator_id"] == mediator_user.pk
    r = mediator.post(f"/api/v1/cases/{case_id}/decide/",
                      {"outcome": "partial_refund", "refund_amount": 200_000,
                       "reasons": "Hàng hư một phần"}, format="json")
    assert r.json()["state"] == "decided"
    assert sorted(buyer.get(f"/api/v1/cases/{case_id}/actions/").json()["actions"]) == [
        "add_evidence", "appeal"]
    # An action answers with the case as written; the dossier is one GET away at Location.
    assert r["Location"] == f"/api/v1/cases/{case_id}/"
    detail = mediator.get(r["Location"]).json()
    assert [t["action"] for t in detail["timeline"]] == [
        "file", "make_offer", "escalate", "assign", "decide"]


def test_an_action_answers_with_the_case_as_written(api, order, buyer_user, seller_user):
    case_id = api(buyer_user).post("/api/v1/cases/", filing(order), format="json").json()["id"]
    r = api(seller_user).post(f"/api/v1/cases/{case_id}/offer/",
                              {"remedy": "partial_refund", "amount": 100_000}, format="json")
    assert r.status_code == 200 and r["Location"] == f"/api/v1/cases/{case_id}/"
    body = r.json()
    listed = api(seller_user).get("/api/v1/cases/").json()["results"][0]
    assert {k: body[k] for k in listed} == listed  # the list's fields, same values
    assert (body["open_offer_remedy"], body["open_offer_amount"]) == ("partial_refund", 100_000)
    assert body["actions"] == sorted(
        api(seller_user).get(f"/api/v1/cases/{case_id}/actions/").json()["actions"])
    r = api(buyer_user).post(f"/api/v1/cases/{case_id}/counter-offer/",
                             {"remedy": "partial_refund", "amount": 200_000}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "awaiting_seller"
    assert r.json()["actions"] == api(buyer_user).get(
        f"/api/v1/cases/{case_id}/actions/").json()["actions"]


# --- visibility: a buyer, a seller, a mediator and a stranger on every endpoint --------------
@pytest.fixture
def others_case(order, buyer_user, seller_user, mediator_user, supervisor_user):
    return case_in(State.AWAITING_SELLER, order=order, buyer=buyer_user, seller=seller_user,
                   mediator=mediator_user, supervisor=supervisor_user)


READ_ENDPOINTS = ["/api/v1/cases/{id}/", "/api/v1/cases/{id}/actions/"]


@pytest.mark.parametrize("who", ["stranger", "mediator", "other_buyer", "other_seller"])
def test_outsiders_see_and_change_nothing(who, api, others_case, stranger, mediator_user):
    users = {"stranger": stranger, "mediator": mediator_user,
             "other_buyer": f.paid_order().buyer.user,
             "other_seller": f.SellerFactory(staff_users=[f.UserFactory()]).staff.first()}
    client = api(users[who])
    before = (Case.objects.get(pk=others_case.pk).state, TimelineEntry.objects.count())
    assert client.get("/api/v1/cases/").json()["count"] == 0
    for url in READ_ENDPOINTS:
        response = client.get(url.format(id=others_case.pk))
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    for slug in ACTIONS:
        response = client.post(f"/api/v1/cases/{others_case.pk}/{slug}/", {}, format="json")
        assert response.status_code in (400, 404), slug  # bad input, or no such case for you
        assert response.status_code != 409
    response = client.post(f"/api/v1/cases/{others_case.pk}/evidence/", {"file": png()},
                           format="multipart")
    assert response.status_code == 404
    assert (Case.objects.get(pk=others_case.pk).state, TimelineEntry.objects.count()) == before


def test_full_valid_actions_by_outsiders_are_404(api, others_case, stranger):
    client = api(stranger)
    for slug, body in {"accept-claim": {}, "withdraw": {}, "escalate": {"reason": "x"},
                       "offer": {"remedy": "partial_refund", "amount": 1}}.items():
        assert client.post(f"/api/v1/cases/{others_case.pk}/{slug}/", body,
                           format="json").status_code == 404


def test_each_party_sees_only_its_cases(api, order, buyer_user, seller_user, supervisor_user):
    mine = file_case(order, buyer_user)
    other_order = f.paid_order()
    other = file_case(other_order, other_order.buyer.user)
    assert [c["id"] for c in api(buyer_user).get("/api/v1/cases/").json()["results"]] == [mine.pk]
    assert [c["id"] for c in api(seller_user).get("/api/v1/cases/").json()["results"]] == [mine.pk]
    everyone = api(supervisor_user).get("/api/v1/cases/?ordering=filed_at").json()["results"]
    assert [c["id"] for c in everyone] == [mine.pk, other.pk]


def test_list_filters_and_search(api, order, buyer_user, supervisor_user):
    case = file_case(order, buyer_user)
    client = api(supervisor_user)
    assert client.get(f"/api/v1/cases/?q={case.reference}").json()["count"] == 1
    assert client.get(f"/api/v1/cases/?q={order.external_id}").json()["count"] == 1
    assert client.get("/api/v1/cases/?state=awaiting_buyer").json()["count"] == 0
    assert client.get("/api/v1/cases/?state=awaiting_seller&reason=damaged").json()["count"] == 1
    bad = client.get("/api/v1/cases/?state=flying")
    assert bad.status_code == 400 and "state" in bad.json()["error"]["fields"]


def test_anonymous_is_401_and_token_auth_works(order, buyer_user):
    anonymous = APIClient().get("/api/v1/cases/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    token = Token.objects.create(user=buyer_user)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/cases/").status_code == 200
    r = APIClient().post("/api/v1/auth/token/", {"username": "buyer", "password": "pw-odr-2026"})
    assert r.status_code == 200 and r.json()["token"] == token.key


def test_state_cannot_be_written_through_the_api(api, order, buyer_user):
    case = file_case(order, buyer_user)
    response = api(buyer_user).patch(f"/api/v1/cases/{case.pk}/", {"state": "closed"},
                                     format="json")
    assert response.status_code == 405
    assert Case.objects.get(pk=case.pk).state == "awaiting_seller"


# --- evidence ---------------------------------------------------------------------------------
def test_evidence_upload_and_permission_checked_download(api, order, buyer_user, seller_user,
                                                         stranger):
    case = file_case(order, buyer_user)
    response = api(buyer_user).post(f"/api/v1/cases/{case.pk}/evidence/",
                                    {"file": png("hop-che.png"), "caption": "Hộp móp"},
                                    format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    evidence = Evidence.objects.get(uid=body["uid"])
    assert (evidence.content_type, evidence.size, evidence.uploader_role) == (
        "image/png", len(PNG), "buyer")
    import hashlib
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    download = api(seller_user).get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["X-Content-Type-Options"] == "nosniff"
    assert api(stranger).get(body["download_url"]).status_code == 404


def test_evidence_type_is_checked_by_magic_bytes(api, order, buyer_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = file_case(order, buyer_user)
    fake = SimpleUploadedFile("anh.png", b"MZ\x90\x00 this is an exe", content_type="image/png")
    response = api(buyer_user).post(f"/api/v1/cases/{case.pk}/evidence/", {"file": fake},
                                    format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_type_not_allowed"
    assert not Evidence.objects.exists()


def test_evidence_size_limit(api, order, buyer_user, settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 100
    case = file_case(order, buyer_user)
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("big.png", PNG + b"\x00" * 200, content_type="image/png")
    response = api(buyer_user).post(f"/api/v1/cases/{case.pk}/evidence/", {"file": big},
                                    format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_too_large"
    assert not Evidence.objects.exists()


def test_contest_requires_the_sellers_own_evidence(api, order, buyer_user, seller_user):
    case = file_case(order, buyer_user)
    buyer_file = api(buyer_user).post(f"/api/v1/cases/{case.pk}/evidence/", {"file": png()},
                                      format="multipart").json()["uid"]
    r = api(seller_user).post(f"/api/v1/cases/{case.pk}/contest/",
                              {"reason": "Hàng đúng", "evidence_ids": [buyer_file]}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "evidence_required"
    own = api(seller_user).post(f"/api/v1/cases/{case.pk}/evidence/", {"file": png()},
                                format="multipart").json()["uid"]
    r = api(seller_user).post(f"/api/v1/cases/{case.pk}/contest/",
                              {"reason": "Hàng đúng", "evidence_ids": [own]}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "awaiting_buyer"


# --- schema, docs, graph ----------------------------------------------------------------------
def test_openapi_schema_and_offline_swagger(api, buyer_user):
    client = api(buyer_user)
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/cases/{id}/escalate/" in paths and "/api/v1/cases/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"/static/drf_spectacular_sidecar/" in docs.content


def test_graph_transitions_draws_the_workflow():
    out = io.StringIO()
    call_command("graph_transitions", "cases.Case", stdout=out)
    dot = out.getvalue()
    for state in State.values:
        assert f"cases.case.state.{state}" in dot
    assert "escalate" in dot and "accept_claim" in dot

"""Signed partner events under /api/v1/partners/<code>/events/: each type applied through the
services, and replayed, forged, stale, malformed and out-of-order events changing nothing."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services
from cases.models import Buyer, Case, Order, OrderLine, Payment, Seller, Shipment, State, TimelineEntry
from partners.models import InboundEvent, Partner
from partners.services import partner_retire_old_secrets, partner_rotate_secret
from tests import factories as f
from tests.cases.helpers import case_in, file_case
from tests.escrow.support import iso, signed_post
from tests.races import race

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.ESCROW_ENQUEUE_ON_COMMIT = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ocop(db):
    return f.PartnerFactory(code="ocop", kind=Partner.Kind.MARKETPLACE)


@pytest.fixture
def ghn(db):
    return f.carrier("ghn")


def order_event(event_id="evt-order-1", external_id="DH-777", **over) -> dict:
    order = {
        "id": external_id, "placed_at": iso(timezone.now() - timedelta(days=3)),
        "expected_delivery_at": iso(timezone.now() + timedelta(days=1)),
        "buyer": {"id": "b-1", "name": "Trần Thị Lan", "phone": "0912345678"},
        "seller": {"id": "s-1", "name": "HTX Chè Hoành Bồ"},
        "lines": [{"sku": "CHE-01", "name": "Chè 500g", "quantity": 2, "unit_price": 150_000},
                  {"sku": "MIEN-02", "name": "Miến dong Bình Liêu", "quantity": 1, "unit_price": 90_000}],
    }
    order.update(over)
    return {"event_id": event_id, "type": "order.upsert", "order": order}


def counts() -> dict:
    return {m.__name__: m.objects.count() for m in
            (Order, OrderLine, Buyer, Seller, Payment, Shipment, InboundEvent, TimelineEntry, Case)}


def test_order_upsert_creates_the_records(client, ocop):
    response = signed_post(client, "ocop", order_event())
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    assert response.json()["status"] == "processed"
    order = Order.objects.get(marketplace=ocop, external_id="DH-777")
    assert (order.total, order.buyer.name, order.seller.name, order.lines.count()) == (
        390_000, "Trần Thị Lan", "HTX Chè Hoành Bồ", 2)
    event = InboundEvent.objects.get()
    assert (event.event_id, event.type, event.status, event.deliveries) == (
        "evt-order-1", "order.upsert", "processed", 1)


def test_replay_returns_duplicate_and_changes_nothing(client, ocop):
    signed_post(client, "ocop", order_event())
    before = counts()
    # the same event again, even with other content, is a duplicate
    response = signed_post(client, "ocop", order_event(lines=[
        {"sku": "X", "name": "X", "quantity": 1, "unit_price": 1}]))
    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert counts() == before
    assert Order.objects.get().total == 390_000
    assert InboundEvent.objects.get().deliveries == 2


@pytest.mark.parametrize(("case", "code"), [
    ("wrong_secret", "signature_invalid"),
    ("stale", "timestamp_stale"),
    ("missing", "signature_missing"),
    ("tampered", "signature_invalid"),
])
def test_forged_or_stale_events_are_refused_with_401(client, ocop, case, code):
    before = counts()
    if case == "wrong_secret":
        response = signed_post(client, "ocop", order_event(), secret="whsec_attacker")
    elif case == "stale":
        response = signed_post(client, "ocop", order_event(), now=time.time() - 301)
    elif case == "missing":
        response = signed_post(client, "ocop", order_event(), headers={})
    else:  # signed body, then altered in transit
        from partners import signing
        body = b'{"event_id":"e","type":"order.upsert"}'
        headers = signing.signed_headers(secrets=["whsec_test_1"], body=body)
        response = signed_post(client, "ocop", None, raw=body.replace(b'"e"', b'"f"'), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert counts() == before


def test_unknown_partner_is_404(client, ocop):
    response = signed_post(client, "nobody", order_event())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_partner"


def test_malformed_body_is_400_and_recorded(client, ocop):
    before = counts()
    response = signed_post(client, "ocop", None, raw=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    after = counts()
    assert after.pop("InboundEvent") == before.pop("InboundEvent") + 1
    assert after == before


def test_missing_fields_are_400_with_field_messages(client, ocop):
    message = order_event()
    del message["order"]["buyer"]["name"]
    message["order"]["lines"] = []
    response = signed_post(client, "ocop", message)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"order.buyer.name", "order.lines"}
    assert Order.objects.count() == 0
    assert InboundEvent.objects.get().status == "rejected"


def test_envelope_without_event_id_is_400(client, ocop):
    response = signed_post(client, "ocop", {"type": "order.upsert", "order": {}})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"event_id"}


def test_event_type_must_fit_the_partner(client, ocop):
    response = signed_post(client, "ocop", {"event_id": "x1", "type": "shipment.event", "shipment": {}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_event_type"


def test_unknown_order_is_422_and_a_retry_after_the_order_arrives_works(client, ocop):
    momo = f.PartnerFactory(code="momo", kind=Partner.Kind.PAYMENT)
    captured = {"event_id": "pay-1", "type": "payment.captured", "payment": {
        "id": "MOMO-1", "order": {"marketplace": "ocop", "id": "DH-777"}, "method": "ewallet",
        "amount": 390_000, "paid_at": iso()}}
    response = signed_post(client, "momo", captured)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_order"
    assert Payment.objects.count() == 0
    # the marketplace pushes the order, the payment partner retries the same event
    signed_post(client, "ocop", order_event())
    response = signed_post(client, "momo", captured)
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    payment = Payment.objects.get()
    assert (payment.partner, payment.amount, payment.order.external_id) == (momo, 390_000, "DH-777")
    assert InboundEvent.objects.get(event_id="pay-1").status == "processed"


def shipment_event(event_id, status, at, *, order, tracking="GHN123", direction="forward", **extra):
    return {"event_id": event_id, "type": "shipment.event", "shipment": {
        "tracking_number": tracking, "order": {"marketplace": "ocop", "id": order.external_id},
        "direction": direction, "status": status, "occurred_at": iso(at), **extra}}


def test_older_shipment_event_never_overwrites_newer(client, ghn, order):
    now = timezone.now()
    assert signed_post(client, "ghn", shipment_event("s2", "delivered", now, order=order)).status_code == 200
    earlier = now - timedelta(hours=5)
    late = signed_post(client, "ghn", shipment_event("s1", "in_transit", earlier, order=order))
    assert late.status_code == 200
    shipment = Shipment.objects.get()
    assert (shipment.status, shipment.status_at) == ("delivered", now)
    assert list(shipment.events.values_list("status", flat=True)) == ["in_transit", "delivered"]


def test_return_delivered_starts_the_sellers_clock(client, ghn, order, buyer_user, seller_user,
                                                   mediator_user, supervisor_user):
    case = case_in(State.AWAITING_RETURN, order=order, buyer=buyer_user, seller=seller_user,
                   mediator=mediator_user, supervisor=supervisor_user)
    services.case_return_ship(case_id=case.pk, actor=buyer_user, carrier_code="ghn",
                              tracking_number="RET-1")
    delivered_at = timezone.now() + timedelta(seconds=1)
    response = signed_post(client, "ghn", shipment_event(
        "r1", "delivered", delivered_at, order=order, tracking="RET-1", direction="return"))
    assert response.status_code == 200
    assert response.json()["result"]["effect"] == "return_delivered"
    case.refresh_from_db()
    entry = TimelineEntry.objects.get(case=case, action="return_delivered")
    assert timezone.datetime.fromisoformat(entry.data["delivered_at"]) == delivered_at
    assert case.state == State.AWAITING_RETURN and case.due_at > delivered_at
    # the replayed event changes nothing
    before, due = counts(), case.due_at
    again = signed_post(client, "ghn", shipment_event(
        "r1", "delivered", delivered_at, order=order, tracking="RET-1", direction="return"))
    assert again.json()["duplicate"] is True
    assert counts() == before
    case.refresh_from_db()
    assert case.due_at == due


def test_forward_proof_of_delivery_joins_a_not_received_case(client, ghn, order, buyer_user):
    case = file_case(order, buyer_user, reason="not_received", amount=450_000)
    at = timezone.now() - timedelta(days=2)
    response = signed_post(client, "ghn", shipment_event(
        "p1", "delivered", at, order=order, proof_of_delivery="https://ghn.vn/pod/GHN123.jpg",
        location="Hạ Long"))
    assert response.json()["result"]["effect"] == "proof_of_delivery"
    entry = TimelineEntry.objects.get(case=case, action="proof_of_delivery")
    assert (entry.actor_role, entry.from_state, entry.data["proof_of_delivery"]) == (
        "system", "awaiting_seller", "https://ghn.vn/pod/GHN123.jpg")
    assert Case.objects.get(pk=case.pk).state == State.AWAITING_SELLER


def test_chargeback_is_recorded_on_the_open_case(client, order, buyer_user):
    case = file_case(order, buyer_user, amount=300_000)
    payment = case.payment
    message = {"event_id": "cb-evt-1", "type": "chargeback.opened", "chargeback": {
        "id": "CB-1", "payment_reference": payment.external_id, "amount": 200_000,
        "reason": "Ngân hàng hoàn tiền cho chủ thẻ", "opened_at": iso()}}
    response = signed_post(client, "momo", message)
    assert response.status_code == 200
    entry = TimelineEntry.objects.get(case=case, action="chargeback_opened")
    assert entry.data == {"chargeback": "CB-1", "amount": 200_000}
    assert payment.chargebacks.get().case == case


def test_secret_rotation_keeps_the_old_secret_until_retired(client, ocop):
    new = partner_rotate_secret(partner=ocop, new_secret="whsec_new_secret_2026")
    assert Partner.objects.get(pk=ocop.pk).signing_secrets == [new, "whsec_test_1"]
    assert signed_post(client, "ocop", order_event("a")).status_code == 200
    assert signed_post(client, "ocop", order_event("b"), secret=new).status_code == 200
    partner_retire_old_secrets(partner=ocop)
    assert signed_post(client, "ocop", order_event("c")).status_code == 401
    assert signed_post(client, "ocop", order_event("d"), secret=new).status_code == 200


def test_escrow_confirmed_callback_applies_once(client, order, buyer_user):
    from escrow.models import EscrowInstruction

    case = file_case(order, buyer_user, amount=300_000)
    hold = EscrowInstruction.objects.get(case=case)
    message = {"event_id": str(uuid.uuid4()), "type": "escrow.confirmed",
               "instruction_id": str(hold.pk), "instruction_type": "hold", "status": "confirmed",
               "partner_reference": "MOMO-REF-1", "amount": 300_000}
    assert signed_post(client, "momo", message).json()["result"]["applied"] is True
    # a second callback under another event id finds it confirmed and changes nothing
    before = counts()
    again = signed_post(client, "momo", {**message, "event_id": str(uuid.uuid4())})
    assert (again.status_code, again.json()["result"]["applied"]) == (200, False)
    after = counts()
    assert after.pop("InboundEvent") == before.pop("InboundEvent") + 1
    assert after == before
    assert Payment.objects.get(pk=case.payment_id).held_amount == 300_000


def test_escrow_confirmed_for_another_partners_instruction_is_422(client, order, buyer_user):
    from escrow.models import EscrowInstruction

    case = file_case(order, buyer_user, amount=300_000)
    hold = EscrowInstruction.objects.get(case=case)
    f.PartnerFactory(code="zalopay", kind=Partner.Kind.PAYMENT)
    response = signed_post(client, "zalopay", {
        "event_id": "z1", "type": "escrow.confirmed", "instruction_id": str(hold.pk),
        "status": "confirmed"})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_instruction")
    hold.refresh_from_db()
    assert hold.status == "pending"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_copies_of_one_event_apply_once(settings, ocop):
    from django.test import Client

    if not settings.USING_POSTGRES:
        pytest.skip("needs concurrent PostgreSQL connections")

    def send():
        response = signed_post(Client(), "ocop", order_event())
        return response.status_code, response.json()["duplicate"]

    answers = race(*[send] * 4)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert sorted(answers) == [(200, False), (200, True), (200, True), (200, True)]
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 2)
    assert InboundEvent.objects.get().deliveries == 4

"""What each signed partner event means, one handler per `type`.

A handler takes the authenticated partner and the parsed JSON object, validates it (400 with
field messages), resolves the records it names (422 when they are unknown) and calls the
services that own the writes: cases.services upserts and workflow, escrow.services for money.
A native adapter (GHN, VNPay IPN, MoMo…) maps the partner's own format onto one of these
messages and calls the same handler, so the rules live in one place.

Event bodies (odr partner protocol, see README.md, "Escrow and partners"):
    {"event_id": "…", "type": "order.upsert",     "order": {…}}
    {"event_id": "…", "type": "payment.captured", "payment": {…}}
    {"event_id": "…", "type": "shipment.event",   "shipment": {…}}
    {"event_id": "…", "type": "chargeback.opened","chargeback": {…}}
    {"event_id": "…", "type": "escrow.confirmed", "instruction_id": "…", "status": "confirmed",
     "partner_reference": "…", "amount": 123, "payment": {…}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from rest_framework import serializers

from cases.errors import DomainError
from cases.models import Case, Order, Payment, Shipment, State
from partners.models import Partner

log = logging.getLogger(__name__)
Kind = Partner.Kind


class Unprocessable(DomainError):
    """Well-formed, authenticated, but naming records odr does not know: 422."""

    status = 422
    code = "unprocessable"


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    return serializer.validated_data


# --- shapes -----------------------------------------------------------------------------------
class OrderRef(serializers.Serializer):
    marketplace = serializers.SlugField(max_length=50)
    id = serializers.CharField(max_length=64)


class Party(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class Line(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.IntegerField(min_value=0)


class OrderBody(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    placed_at = serializers.DateTimeField()
    expected_delivery_at = serializers.DateTimeField(required=False, allow_null=True)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)
    currency = serializers.ChoiceField(choices=["VND"], default="VND")
    buyer = Party()
    seller = Party()
    lines = Line(many=True, allow_empty=False)


class OrderUpsert(serializers.Serializer):
    order = OrderBody()


class PaymentBody(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    order = OrderRef()
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    amount = serializers.IntegerField(min_value=1)
    currency = serializers.ChoiceField(choices=["VND"], default="VND")
    paid_at = serializers.DateTimeField()


class PaymentCaptured(serializers.Serializer):
    payment = PaymentBody()


class ShipmentBody(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=64)
    order = OrderRef()
    direction = serializers.ChoiceField(choices=Shipment.Direction.choices,
                                        default=Shipment.Direction.FORWARD)
    status = serializers.ChoiceField(choices=Shipment.Status.choices)
    occurred_at = serializers.DateTimeField()
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    proof_of_delivery = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                              default="")


class ShipmentEventMessage(serializers.Serializer):
    shipment = ShipmentBody()


class ChargebackBody(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    payment_reference = serializers.CharField(max_length=64)
    amount = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    opened_at = serializers.DateTimeField()


class ChargebackOpened(serializers.Serializer):
    chargeback = ChargebackBody()


class EscrowConfirmed(serializers.Serializer):
    instruction_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["confirmed", "rejected"], default="confirmed")
    partner_reference = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                              default="")
    amount = serializers.IntegerField(min_value=1, required=False)
    error = serializers.JSONField(required=False)


# --- lookups ----------------------------------------------------------------------------------
def _order(ref: dict) -> Order:
    order = (Order.objects.select_related("marketplace")
             .filter(marketplace__code=ref["marketplace"], external_id=ref["id"]).first())
    if order is None:
        raise Unprocessable("Unknown order", code="unknown_order", fields={
            "order": [f"Không có đơn hàng {ref['marketplace']}:{ref['id']}; gửi order.upsert trước."]})
    return order


def _open_case(order: Order, *, lock: bool = False) -> Case | None:
    qs = Case.objects.filter(order=order).exclude(state=State.CLOSED)
    if lock:
        qs = qs.select_for_update(of=("self",))
    return qs.first()


# --- handlers ---------------------------------------------------------------------------------
def handle_order_upsert(partner: Partner, message: dict) -> dict:
    from cases.services import LineData, buyer_upsert, order_upsert, seller_upsert

    data = _validated(OrderUpsert, message)["order"]
    buyer_data, seller_data = data["buyer"], data["seller"]
    seller = seller_upsert(marketplace=partner, external_id=seller_data["id"], name=seller_data["name"])
    buyer = buyer_upsert(marketplace=partner, external_id=buyer_data["id"], name=buyer_data["name"],
                         **{k: buyer_data[k] for k in ("phone", "email") if k in buyer_data})
    order = order_upsert(
        marketplace=partner, external_id=data["id"], buyer=buyer, seller=seller,
        placed_at=data["placed_at"], expected_delivery_at=data.get("expected_delivery_at"),
        delivered_at=data.get("delivered_at"), currency=data["currency"],
        lines=[LineData(**line) for line in data["lines"]],
    )
    return {"order": order.pk, "total": order.total}


def handle_payment_captured(partner: Partner, message: dict) -> dict:
    from cases.services import payment_upsert

    data = _validated(PaymentCaptured, message)["payment"]
    order = _order(data["order"])
    payment = payment_upsert(partner=partner, external_id=data["id"], order=order,
                             method=data["method"], amount=data["amount"], paid_at=data["paid_at"],
                             currency=data["currency"])
    return {"payment": payment.pk}


def handle_shipment_event(partner: Partner, message: dict) -> dict:
    """Records the tracking step (an older event never overwrites a newer status) and lets it
    drive the case: a return delivered starts the seller's confirmation clock; a forward
    delivery with proof joins the timeline of an open 'not received' case."""
    from cases import roles
    from cases.models import Reason
    from cases.models import ShipmentEvent as TrackingStep
    from cases.services import case_return_delivered, shipment_event_record, timeline_record

    data = _validated(ShipmentEventMessage, message)["shipment"]
    order = _order(data["order"])
    # Lock order as the workflow's: the case first, then the shipment.
    case = _open_case(order, lock=True)
    # The first delivered event drives the case, even if a later status already arrived.
    first_delivery = data["status"] == Shipment.Status.DELIVERED and not TrackingStep.objects.filter(
        shipment__carrier=partner, shipment__tracking_number=data["tracking_number"],
        status=Shipment.Status.DELIVERED).exists()
    shipment, newer = shipment_event_record(
        carrier=partner, tracking_number=data["tracking_number"], order=order,
        status=data["status"], occurred_at=data["occurred_at"], direction=data["direction"],
        location=data["location"], description=data["description"],
        proof_of_delivery=data["proof_of_delivery"],
    )
    if shipment.order_id != order.pk:
        raise Unprocessable("Tracking number belongs to another order", code="shipment_order_mismatch",
                            fields={"shipment": ["Mã vận đơn thuộc đơn hàng khác."]})
    effect = None
    if first_delivery and case is not None:
        if shipment.direction == Shipment.Direction.RETURN and case.state == State.AWAITING_RETURN:
            case_return_delivered(case_id=case.pk, delivered_at=data["occurred_at"])
            effect = "return_delivered"
        elif (shipment.direction == Shipment.Direction.FORWARD and data["proof_of_delivery"]
              and case.reason == Reason.NOT_RECEIVED and case.is_open):
            timeline_record(case=case, actor=roles.SYSTEM, action="proof_of_delivery",
                            from_state=case.state, data={
                                "carrier": partner.code, "tracking_number": shipment.tracking_number,
                                "delivered_at": data["occurred_at"].isoformat(),
                                "proof_of_delivery": data["proof_of_delivery"],
                                "location": data["location"]})
            effect = "proof_of_delivery"
    return {"shipment": shipment.pk, "status": shipment.status, "newer": newer, "effect": effect,
            "case": case.pk if case else None}


def handle_chargeback_opened(partner: Partner, message: dict) -> dict:
    from escrow.services import chargeback_record

    data = _validated(ChargebackOpened, message)["chargeback"]
    payment = Payment.objects.filter(partner=partner, external_id=data["payment_reference"]).first()
    if payment is None:
        raise Unprocessable("Unknown payment", code="unknown_payment", fields={
            "payment_reference": ["Không có giao dịch này."]})
    chargeback, created = chargeback_record(
        partner=partner, external_id=data["id"], payment=payment, amount=data["amount"],
        opened_at=data["opened_at"], reason=data["reason"])
    return {"chargeback": chargeback.pk, "case": chargeback.case_id, "created": created}


def handle_escrow_confirmed(partner: Partner, message: dict) -> dict:
    from escrow.models import EscrowInstruction
    from escrow.services import escrow_confirm, escrow_reject

    data = _validated(EscrowConfirmed, message)
    if not EscrowInstruction.objects.filter(pk=data["instruction_id"], partner=partner).exists():
        raise Unprocessable("Unknown escrow instruction", code="unknown_instruction",
                            fields={"instruction_id": ["Không có lệnh ký quỹ này."]})
    if data["status"] == "rejected":
        instruction = escrow_reject(instruction_id=data["instruction_id"],
                                    error=str(data.get("error") or "rejected"))
        return {"instruction": str(instruction.pk), "status": instruction.status}
    instruction, applied = escrow_confirm(
        instruction_id=data["instruction_id"], partner_reference=data["partner_reference"],
        amount=data.get("amount"), source="callback")
    return {"instruction": str(instruction.pk), "status": instruction.status, "applied": applied}


Handler = Callable[[Partner, dict], dict]
HANDLERS: dict[str, tuple[str, Handler]] = {
    "order.upsert": (Kind.MARKETPLACE, handle_order_upsert),
    "payment.captured": (Kind.PAYMENT, handle_payment_captured),
    "chargeback.opened": (Kind.PAYMENT, handle_chargeback_opened),
    "escrow.confirmed": (Kind.PAYMENT, handle_escrow_confirmed),
    "shipment.event": (Kind.CARRIER, handle_shipment_event),
}


def handler_for(partner: Partner, event_type: str) -> Handler:
    entry = HANDLERS.get(event_type)
    if entry is None or entry[0] != partner.kind:
        allowed = sorted(t for t, (kind, _) in HANDLERS.items() if kind == partner.kind)
        raise DomainError("Unsupported event type for this partner", code="unsupported_event_type",
                          fields={"type": [f"Đối tác loại {partner.kind} gửi được: {', '.join(allowed)}."]})
    return entry[1]


def run(partner: Partner, event_type: str, message: dict) -> dict:
    """Validate and apply one message in a savepoint: on any error nothing of it remains."""
    handler = handler_for(partner, event_type)
    with transaction.atomic():
        return handler(partner, message)

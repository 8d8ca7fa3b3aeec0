"""Upserts of partner records, idempotent by (source, external id): a replayed feed changes
nothing, a newer one updates in place, and an older shipment status never overwrites a newer."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from cases.models import Buyer, Order, OrderLine, Payment, Seller, Shipment, ShipmentEvent
from partners.models import Partner


@dataclass(frozen=True)
class LineData:
    sku: str
    name: str
    quantity: int
    unit_price: int


@transaction.atomic
def seller_upsert(*, marketplace: Partner, external_id: str, name: str, **extra) -> Seller:
    seller, _ = Seller.objects.update_or_create(
        marketplace=marketplace, external_id=external_id, defaults={"name": name, **extra}
    )
    return seller


@transaction.atomic
def buyer_upsert(*, marketplace: Partner, external_id: str, name: str, **extra) -> Buyer:
    buyer, _ = Buyer.objects.update_or_create(
        marketplace=marketplace, external_id=external_id, defaults={"name": name, **extra}
    )
    return buyer


@transaction.atomic
def order_upsert(
    *, marketplace: Partner, external_id: str, buyer: Buyer, seller: Seller,
    placed_at: datetime, lines: list[LineData], expected_delivery_at: datetime | None = None,
    delivered_at: datetime | None = None, currency: str = "VND",
) -> Order:
    """The order total is the sum of its lines, so the two can never disagree."""
    total = sum(line.quantity * line.unit_price for line in lines)
    order, created = Order.objects.update_or_create(
        marketplace=marketplace, external_id=external_id,
        defaults={
            "buyer": buyer, "seller": seller, "placed_at": placed_at, "total": total,
            "currency": currency, "expected_delivery_at": expected_delivery_at,
            **({"delivered_at": delivered_at} if delivered_at else {}),
        },
    )
    if not created:
        order.lines.all().delete()
    OrderLine.objects.bulk_create(
        OrderLine(order=order, sku=ln.sku, name=ln.name, quantity=ln.quantity,
                  unit_price=ln.unit_price)
        for ln in lines
    )
    return order


@transaction.atomic
def payment_upsert(
    *, partner: Partner, external_id: str, order: Order, method: str, amount: int,
    paid_at: datetime, currency: str = "VND",
) -> Payment:
    """Amount and method are the partner's; the escrow columns are never touched here."""
    payment, _ = Payment.objects.update_or_create(
        partner=partner, external_id=external_id,
        defaults={"order": order, "method": method, "amount": amount, "paid_at": paid_at,
                  "currency": currency},
    )
    return payment


@transaction.atomic
def shipment_event_record(
    *, carrier: Partner, tracking_number: str, order: Order, status: str, occurred_at: datetime,
    direction: str = Shipment.Direction.FORWARD, location: str = "", description: str = "",
    proof_of_delivery: str = "",
) -> tuple[Shipment, bool]:
    """Record one tracking event; returns (shipment, whether the status moved forward).
    Events arrive late and twice: a duplicate is ignored, an older event joins the timeline
    without changing the shipment's current status."""
    shipment, _ = Shipment.objects.get_or_create(
        carrier=carrier, tracking_number=tracking_number,
        defaults={"order": order, "direction": direction},
    )
    shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
    _, created = ShipmentEvent.objects.get_or_create(
        shipment=shipment, status=status, occurred_at=occurred_at,
        defaults={"location": location, "description": description},
    )
    newer = created and (shipment.status_at is None or occurred_at >= shipment.status_at)
    if newer:
        shipment.status, shipment.status_at = status, occurred_at
    if created and status == Shipment.Status.DELIVERED:
        shipment.delivered_at = shipment.delivered_at or occurred_at
        shipment.proof_of_delivery = proof_of_delivery or shipment.proof_of_delivery
        if shipment.direction == Shipment.Direction.FORWARD and order.delivered_at is None:
            Order.objects.filter(pk=order.pk).update(delivered_at=occurred_at)
    if created:
        shipment.save()
    return shipment, newer

"""The records a complaint is about: orders, payments, shipments, and the people behind them.

Records arrive from partner feeds and are upserted by (source, external id), so a replayed feed
changes nothing. Money is whole Vietnamese đồng in an integer column (VND has no minor unit).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from partners.models import Partner


class Seller(models.Model):
    """A shop on a marketplace, often a small OCOP producer; several staff users answer for it."""

    marketplace = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="sellers")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    province = models.CharField(max_length=80, blank=True, default="Quảng Ninh")
    ocop_stars = models.PositiveSmallIntegerField(null=True, blank=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="seller_memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["marketplace", "external_id"], name="seller_source_uq")
        ]

    def __str__(self) -> str:
        return self.name


class Buyer(models.Model):
    marketplace = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="buyers")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=20, blank=True)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="buyer_accounts",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["marketplace", "external_id"], name="buyer_source_uq")
        ]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    marketplace = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=64)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="orders")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="orders")
    total = models.BigIntegerField(help_text=_("VND"))
    currency = models.CharField(max_length=3, default="VND")
    placed_at = models.DateTimeField()
    expected_delivery_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["marketplace", "external_id"], name="order_source_uq")
        ]
        indexes = [models.Index(fields=["seller", "placed_at"])]

    def __str__(self) -> str:
        return f"{self.marketplace.code}:{self.external_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


class Payment(models.Model):
    """A payment held by a payment partner. The escrow position moves only on the partner's
    confirmation (escrow app); these columns are its confirmed view."""

    class Method(models.TextChoices):
        EWALLET = "ewallet", _("Ví điện tử")
        QR = "qr", _("QR")
        MOBILE_MONEY = "mobile_money", _("Mobile Money")
        CARD = "card", _("Thẻ")
        BANK_TRANSFER = "bank_transfer", _("Chuyển khoản")
        COD = "cod", _("Thu hộ (COD)")

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="payments")
    external_id = models.CharField(max_length=64, help_text=_("Partner's transaction id"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=Method.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="VND")
    paid_at = models.DateTimeField()
    held_amount = models.BigIntegerField(default=0)
    released_amount = models.BigIntegerField(default=0)
    refunded_amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="payment_source_uq"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__lte=models.F("amount") - models.F("released_amount")),
                name="payment_no_overrefund",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner.code}:{self.external_id}"


class Shipment(models.Model):
    class Direction(models.TextChoices):
        FORWARD = "forward", _("Giao hàng")
        RETURN = "return", _("Hoàn hàng")

    class Status(models.TextChoices):
        CREATED = "created", _("Đã tạo")
        PICKED_UP = "picked_up", _("Đã lấy hàng")
        IN_TRANSIT = "in_transit", _("Đang vận chuyển")
        DELIVERED = "delivered", _("Đã giao")
        FAILED = "failed", _("Giao thất bại")
        RETURNED = "returned", _("Đã hoàn về")

    carrier = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="shipments")
    tracking_number = models.CharField(max_length=64)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    direction = models.CharField(max_length=8, choices=Direction.choices, default="forward")
    status = models.CharField(max_length=16, choices=Status.choices, default="created")
    status_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    proof_of_delivery = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["carrier", "tracking_number"], name="shipment_source_uq")
        ]

    def __str__(self) -> str:
        return f"{self.carrier.code}:{self.tracking_number}"


class ShipmentEvent(models.Model):
    """One step of the carrier's tracking timeline; the shipment keeps the newest status."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=Shipment.Status.choices)
    occurred_at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "status", "occurred_at"], name="shipment_event_uq"
            )
        ]

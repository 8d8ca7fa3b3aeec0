"""Escrow instructions to payment partners: an outbox written in the same transaction as the
case transition that needs the money moved, delivered by a worker until confirmed."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EscrowInstruction(models.Model):
    class Kind(models.TextChoices):
        HOLD = "hold", _("Tạm giữ")
        RELEASE = "release", _("Giải ngân cho người bán")
        REFUND = "refund", _("Hoàn tiền cho người mua")

    class Status(models.TextChoices):
        PENDING = "pending", _("Chờ gửi")
        ACCEPTED = "accepted", _("Đối tác đã nhận, chờ xác nhận")
        CONFIRMED = "confirmed", _("Đã xác nhận")
        DEAD = "dead", _("Thất bại, cần xử lý")
        CANCELLED = "cancelled", _("Đã hủy")

    # The id is also the Idempotency-Key the partner sees: a retry is the same request.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="escrow_instructions")
    payment = models.ForeignKey(
        "cases.Payment", on_delete=models.PROTECT, related_name="escrow_instructions"
    )
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_error = models.TextField(blank=True)
    partner_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="escrow_amount_positive")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.status})"

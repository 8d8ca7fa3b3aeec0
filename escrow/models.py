"""Escrow instructions to payment partners: an outbox written in the same transaction as the
case transition that needs the money moved, delivered by a worker until confirmed; every
delivery attempt recorded; chargebacks the partners report."""

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

    # Statuses a worker may (re)send; a row in them blocks later rows of the same payment.
    IN_FLIGHT = (Status.PENDING, Status.ACCEPTED)

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
    # Indexed only while in flight (escrow_due_inflight_idx): the claim is its one reader.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Retried until then (creation + ESCROW_RETRY_WINDOW_HOURS; a manual retry restarts it).
    give_up_at = models.DateTimeField(null=True, blank=True)
    # A worker's claim: nobody else sends the row before lease_until.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(blank=True)
    partner_reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="escrow_amount_positive")
        ]
        indexes = [
            models.Index(fields=["payment", "created_at"]),
            # The claim walks the rows it may send in due order and stops at its limit; partial,
            # so it holds only what is in flight however many confirmed rows pile up.
            models.Index(fields=["next_attempt_at"], name="escrow_due_inflight_idx",
                         condition=models.Q(status__in=("pending", "accepted"))),
            # "Is an earlier instruction of this payment still unsettled?" per candidate row.
            models.Index(fields=["payment", "created_at"], name="escrow_pay_inflight_idx",
                         condition=models.Q(status__in=("pending", "accepted"))),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of an instruction to its partner, whatever came of it."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", _("Đã xác nhận")
        ACCEPTED = "accepted", _("Đã nhận, chờ xác nhận")
        RETRY = "retry", _("Lỗi tạm thời, sẽ thử lại")
        DEAD = "dead", _("Lỗi cuối cùng")

    instruction = models.ForeignKey(
        EscrowInstruction, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [models.Index(fields=["instruction", "started_at"])]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:30]} {self.outcome}"


class Chargeback(models.Model):
    """A payment partner reports that the buyer's bank or wallet pulled money back. That money
    can no longer be refunded (nor released) through escrow."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=64)
    payment = models.ForeignKey("cases.Payment", on_delete=models.PROTECT, related_name="chargebacks")
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="chargebacks"
    )
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    opened_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="chargeback_source_uq"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="chargeback_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"chargeback {self.external_id} {self.amount}"

"""Partner systems odr talks to: marketplaces, carriers and payment partners, and every signed
event they pushed to us."""

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_api_token() -> str:
    return secrets.token_urlsafe(32)


class Partner(models.Model):
    """A marketplace, carrier or payment partner, with its credentials and (for marketplaces)
    the dispute policy that overrides the centre's defaults."""

    class Kind(models.TextChoices):
        MARKETPLACE = "marketplace", _("Sàn thương mại điện tử")
        CARRIER = "carrier", _("Đơn vị vận chuyển")
        PAYMENT = "payment", _("Đối tác thanh toán")

    code = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    # Outbound base URL (payment partners receive escrow instructions here).
    base_url = models.URLField(blank=True)
    # Active HMAC secrets, newest first; two during a rotation. Never shown in the API.
    signing_secrets = models.JSONField(default=list, blank=True)
    secrets_rotated_at = models.DateTimeField(null=True, blank=True)
    policy = models.JSONField(default=dict, blank=True, help_text=_("Policy overrides"))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """A marketplace's policy may tighten the centre's, never break the law (admin forms)."""
        from cases.policy import validate_overrides

        validate_overrides(self.policy or {})


class InboundEvent(models.Model):
    """Every authenticated event a partner pushed, once per (partner, event id): the unique
    constraint is what makes a replay a no-op. A rejected event keeps its error so the partner's
    retry (after fixing the cause) is processed, while a processed one is never applied twice."""

    class Status(models.TextChoices):
        PROCESSED = "processed", _("Đã xử lý")
        REJECTED = "rejected", _("Bị từ chối")

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="inbound_events")
    event_id = models.CharField(max_length=100, null=True, blank=True)
    type = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "event_id"], name="inbound_event_uq")
        ]
        indexes = [models.Index(fields=["partner", "status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.event_id} {self.type} {self.status}"

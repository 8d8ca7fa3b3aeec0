"""What happens inside a case: the timeline, offers, evidence, decisions and appeals."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models.case import Case, Outcome, Remedy


class TimelineEntry(models.Model):
    """One line of the case's story: who did what, from which state to which, and why.
    Written by the service in the same transaction as the change it records."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_role = models.CharField(max_length=16)  # buyer, seller, mediator, supervisor, system
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"


class PendingEvent(models.Model):
    """A case event committed with the change it records and not yet announced to the
    subscribers (chat lines, notifications, assignment, statistics, escrow delivery): the
    transactional outbox. The relay (cases.relay.relay_pending, run by `manage.py
    relay_case_events`) dispatches and deletes it, so an event exists exactly when its change
    does: a rollback takes it away, a crash after commit leaves it for the relay."""

    entry = models.ForeignKey(TimelineEntry, on_delete=models.CASCADE, related_name="+")
    # Escrow instructions written in the same transaction, whose delivery the dispatch starts.
    escrow_ids = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"event of timeline entry {self.entry_id}"


class Offer(models.Model):
    """A proposal on the table: a seller's offer, a buyer's counter, a mediator's settlement."""

    class Author(models.TextChoices):
        SELLER = "seller", _("Người bán")
        BUYER = "buyer", _("Người mua")
        MEDIATOR = "mediator", _("Hòa giải viên")

    class Status(models.TextChoices):
        OPEN = "open", _("Đang chờ")
        ACCEPTED = "accepted", _("Đã chấp nhận")
        SUPERSEDED = "superseded", _("Đã thay thế")
        REJECTED = "rejected", _("Bị từ chối")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="offers")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    author_role = models.CharField(max_length=16, choices=Author.choices)
    remedy = models.CharField(max_length=32, choices=Remedy.choices)
    amount = models.BigIntegerField()
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    buyer_accepted_at = models.DateTimeField(null=True, blank=True)
    seller_accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


def evidence_path(instance: "Evidence", filename: str) -> str:
    return f"evidence/{instance.case_id}/{instance.uid}"


class Evidence(models.Model):
    """A file a party or mediator puts before the case: stored under a random name, typed by
    its magic bytes, fingerprinted with SHA-256 so the dossier can prove it was not altered."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    uploader_role = models.CharField(max_length=16)
    file = models.FileField(upload_to=evidence_path)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    caption = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class Decision(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    refund_amount = models.BigIntegerField(default=0)
    reasons = models.TextField()
    appeal_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]


class Appeal(models.Model):
    class Result(models.TextChoices):
        UPHELD = "upheld", _("Giữ nguyên")
        OVERTURNED = "overturned", _("Thay đổi quyết định")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="appeals")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="appeals")
    appellant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    appellant_role = models.CharField(max_length=16)
    grounds = models.TextField()
    result = models.CharField(max_length=16, choices=Result.choices, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_reasons = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)

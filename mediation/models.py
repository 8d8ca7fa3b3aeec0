"""Mediation chat: one room per case, messages numbered gap-free per case, read markers.

The room row is the per-case sequence counter: a message takes its number with one
`UPDATE … SET last_seq = last_seq + 1 … RETURNING` on that row, in the same transaction as the
INSERT of the message, so numbers never skip or repeat and two cases never wait for each other.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Evidence, TimelineEntry


class ChatRoom(models.Model):
    case = models.OneToOneField(Case, on_delete=models.CASCADE, primary_key=True,
                                related_name="chat_room")
    last_seq = models.PositiveBigIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"chat {self.case_id} (#{self.last_seq})"


class ChatMessage(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Tin nhắn")
        SYSTEM = "system", _("Thông báo hệ thống")
        ATTACHMENT = "attachment", _("Tệp đính kèm")

    class Audience(models.TextChoices):
        ALL = "all", _("Tất cả các bên")
        BUYER = "buyer", _("Riêng với người mua")
        SELLER = "seller", _("Riêng với người bán")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="chat_messages")
    seq = models.PositiveBigIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    author_role = models.CharField(max_length=16)  # buyer, seller, mediator, supervisor, system
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.ALL)
    evidence = models.ForeignKey(Evidence, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="chat_messages")
    client_id = models.CharField(max_length=64, blank=True)
    # The timeline entry a system message announces: one message per entry, even if replayed.
    timeline_entry = models.OneToOneField(TimelineEntry, null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="chat_message")
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    # Redaction hides the text from the parties; the original stays here for the audit.
    redacted_at = models.DateTimeField(null=True, blank=True)
    redacted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    redaction_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["case", "seq"], name="chat_seq_unique_per_case"),
            # A client's resend (same author, same client_id) is the same message.
            models.UniqueConstraint(fields=["case", "author", "client_id"],
                                    condition=~models.Q(client_id=""), name="chat_client_id_once"),
        ]
        indexes = [models.Index(fields=["created_at"], name="chat_created_idx")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq}"


class ReadMarker(models.Model):
    """How far a user has read a case's chat, and how far the digest already told them about."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="chat_read_markers")
    last_read_seq = models.PositiveBigIntegerField(default=0)
    notified_seq = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "case"], name="chat_read_marker_unique"),
        ]

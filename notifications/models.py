"""What we told whom, and how each telling went.

A `Notification` is the in-app record (the bell): always stored, rendered once in the
recipient's language when it is created. Each outward channel (email, SMS, Zalo OA…) gets a
`Delivery` row with its own status, attempts and last error, so a support agent can answer
"did the seller get the email?" and a failed email never touches the case.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Language(models.TextChoices):
    VI = "vi", _("Tiếng Việt")
    EN = "en", _("English")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=40, db_index=True)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    # The timeline entry that caused it: (entry, recipient, event) makes a replayed event harmless.
    entry_id = models.BigIntegerField(null=True, blank=True)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.VI)
    title = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_recent"),
            models.Index(fields=["recipient", "read_at"], name="notif_recipient_unread"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["entry_id", "recipient", "event"], condition=models.Q(entry_id__isnull=False),
                name="notif_once_per_entry",
            )
        ]
        verbose_name = _("thông báo")
        verbose_name_plural = _("thông báo")

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Delivery(models.Model):
    """One notification over one outward channel."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("delivery status", "Đang chờ gửi")
        SENT = "sent", pgettext_lazy("delivery status", "Đã gửi")
        FAILED = "failed", pgettext_lazy("delivery status", "Gửi thất bại")
        SKIPPED = "skipped", pgettext_lazy("delivery status", "Bỏ qua")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=32)  # the backend's name in NOTIFICATION_BACKENDS
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Quiet hours: not sent before this (the periodic sweep releases it).
    not_before = models.DateTimeField(null=True, blank=True)
    # A worker's claim: nobody else sends it before this passes.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once_per_channel")
        ]
        indexes = [models.Index(fields=["status", "not_before"], name="delivery_due")]
        verbose_name = _("lượt gửi")
        verbose_name_plural = _("lượt gửi")

    def __str__(self) -> str:
        return f"{self.notification_id}/{self.channel} {self.status}"


class Preference(models.Model):
    """How one person wants to be told. Absent row = defaults (Vietnamese, every channel's own
    defaults, no quiet hours); the row is created the first time the person saves."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.VI)
    # Overrides only: {"<event>": {"<channel>": false}}; what is absent follows the defaults.
    channels = models.JSONField(default=dict, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tùy chọn thông báo")
        verbose_name_plural = _("tùy chọn thông báo")

    def __str__(self) -> str:
        return f"{self.user_id} ({self.language})"

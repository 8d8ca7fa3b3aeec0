"""What the clock leaves behind: reminders sent before a deadline and requests for more time."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models.case import Case


class Reminder(models.Model):
    """One reminder of one deadline. The unique (case, due_at, kind) makes the periodic task
    idempotent: a rerun, a second worker or a retried task never reminds twice, and a moved
    deadline (extension, new state) gets reminders of its own."""

    class Kind(models.TextChoices):
        DAY_BEFORE = "24h", _("Trước hạn 24 giờ")
        HOUR_BEFORE = "1h", _("Trước hạn 1 giờ")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reminders")
    due_at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    state = models.CharField(max_length=20)
    recipients = models.JSONField(default=list, blank=True)  # user ids
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)  # None: notify unavailable or failed

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "due_at", "kind"], name="reminder_once_per_deadline")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.due_at:%Y-%m-%d %H:%M}"


class DeadlineExtension(models.Model):
    """A party's request for more time on the deadline running against it: once per party and
    case, decided by the other party, the assigned mediator or a supervisor."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Chờ quyết định")
        GRANTED = "granted", _("Đã chấp thuận")
        REFUSED = "refused", _("Bị từ chối")
        LAPSED = "lapsed", _("Hết hiệu lực")  # the case moved on before anyone decided

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requester_role = models.CharField(max_length=16)  # buyer | seller
    state = models.CharField(max_length=20)  # the case state whose deadline it extends
    days = models.PositiveSmallIntegerField()
    reason = models.TextField()
    old_due_at = models.DateTimeField()
    new_due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decider_role = models.CharField(max_length=16, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "requester_role"], name="one_extension_per_party"),
            models.CheckConstraint(condition=models.Q(days__gte=1), name="extension_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.days} ({self.status})"

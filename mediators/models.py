"""The centre's people: mediators (languages, specialities, capacity, availability, declared
conflicts) and the evidence they ask the parties for."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Seller


class Language(models.TextChoices):
    """Languages a case can be heard in. Law 19/2023 art. 64: a party of an ethnic minority may
    ask for a mediator who speaks their language; these are the ones spoken in Quảng Ninh."""

    VI = "vi", _("Tiếng Việt")
    EN = "en", _("English")
    TAY = "tay", _("Tiếng Tày")
    DAO = "dao", _("Tiếng Dao")
    SAN_DIU = "sdiu", _("Tiếng Sán Dìu")
    SAN_CHAY = "schay", _("Tiếng Sán Chay")
    HOA = "zh", _("Tiếng Hoa")


class MediatorProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="mediator_profile")
    languages = models.JSONField(default=list, blank=True)  # Language values
    specialities = models.JSONField(default=list, blank=True)  # Reason values
    capacity = models.PositiveSmallIntegerField(default=15, help_text=_("Số vụ đang hòa giải tối đa"))
    available = models.BooleanField(default=True)
    away_until = models.DateTimeField(null=True, blank=True)
    # Shops the mediator declared a link to (family, former employer, shareholding…).
    conflict_sellers = models.ManyToManyField(Seller, blank=True, related_name="conflicted_mediators")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return f"{self.user} ({', '.join(self.languages)})"

    def is_available(self, now=None) -> bool:
        now = now or timezone.now()
        return self.available and (self.away_until is None or self.away_until <= now)

    def speaks(self, language: str) -> bool:
        return language in (self.languages or [])

    def knows(self, reason: str) -> bool:
        return reason in (self.specialities or [])


class EvidenceRequest(models.Model):
    """The mediator asks one party for something specific, by a date. Fulfilled when that party
    uploads evidence afterwards (automatically) or the mediator marks it done."""

    class Party(models.TextChoices):
        BUYER = "buyer", _("Người mua")
        SELLER = "seller", _("Người bán")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    party = models.CharField(max_length=8, choices=Party.choices)
    message = models.TextField()
    due_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence = models.JSONField(default=list, blank=True)  # uids that fulfilled it
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["case", "party", "fulfilled_at"])]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.party} by {self.due_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.fulfilled_at is None and self.cancelled_at is None

    def is_overdue(self, now=None) -> bool:
        return self.is_open and self.due_at <= (now or timezone.now())

"""Partner systems odr talks to: marketplaces, carriers and payment partners."""

from django.db import models
from django.utils.translation import gettext_lazy as _


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
    policy = models.JSONField(default=dict, blank=True, help_text=_("Policy overrides"))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

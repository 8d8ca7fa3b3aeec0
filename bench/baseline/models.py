from django.db import models


class BaselineRow(models.Model):
    """One row per request of the bare DRF baseline: the least a create endpoint can do."""

    note = models.CharField(max_length=200)
    amount = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

"""The rollup's rows. Days are local (Asia/Ho_Chi_Minh) days of filing, as the statistics'
cohort; each row counts cases filed that day in one marketplace."""

from django.db import models

from partners.models import Partner


class DailyCases(models.Model):
    """Cases filed on a day in a marketplace, for one reason, with one outcome ('' while open)."""

    day = models.DateField()
    marketplace = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=32)
    outcome = models.CharField(max_length=32, blank=True)
    filed = models.PositiveIntegerField()
    resolved = models.PositiveIntegerField()
    breached = models.PositiveIntegerField()
    mediated = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "marketplace", "reason", "outcome"],
                                               name="stats_dailycases_uq")]


class DailyCount(models.Model):
    """Cases filed on a day in a marketplace, per one key of a kind: the seller, the carrier
    that delivered the order, the resolution-time bucket (`stats.tally.BUCKETS`), or the
    working days from filing to resolution."""

    class Kind(models.TextChoices):
        SELLER = "seller"
        CARRIER = "carrier"
        HOURS = "hours"
        WORKDAYS = "workdays"

    day = models.DateField()
    marketplace = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.BigIntegerField()
    cases = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "marketplace", "kind", "key"],
                                               name="stats_dailycount_uq")]


class RollupDay(models.Model):
    """One day of the rollup. Its rows are true while `built_version == version`: whatever may
    change the day's figures bumps `version` (one UPDATE, no read); a build holds the row's
    lock and moves both to version + 1, so a change racing a build leaves the day stale
    (its bump lands after), never wrong."""

    day = models.DateField(primary_key=True)
    version = models.PositiveBigIntegerField(default=0)
    built_version = models.PositiveBigIntegerField(null=True)
    built_at = models.DateTimeField(null=True)


class RollupWatermark(models.Model):
    """The newest case and shipment ids the rollup has looked at (one row). Ids only grow, so
    anything newer — a case inserted or back-dated outside the filing service, a tracking
    number recorded after the complaint — is found by an index range and its days read live
    until the next pass marks them stale."""

    last_case_pk = models.BigIntegerField(default=0)
    last_shipment_pk = models.BigIntegerField(default=0)


class MonthlyCount(models.Model):
    """DailyCount summed over a calendar month (`month` is its first day), so a year reads
    twelve months of rows instead of 365 days of them. Used only while current (RollupMonth)."""

    month = models.DateField()
    marketplace = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=DailyCount.Kind.choices)
    key = models.BigIntegerField()
    cases = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "marketplace", "kind", "key"],
                                               name="stats_monthlycount_uq")]


class RollupMonth(models.Model):
    """A month summed into MonthlyCount, with the sum of its days' versions at that moment.
    Every build of a day raises the day's version, so the month is current exactly while all
    its days are fresh and their versions still add up to `days_version`."""

    month = models.DateField(primary_key=True)
    days_version = models.PositiveBigIntegerField()

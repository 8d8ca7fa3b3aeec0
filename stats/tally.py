"""What the authority's statistics count about the cases filed on a day, defined once as
grouped queries over a queryset of cases: the rollup stores their rows per day and
marketplace, the statistics page runs the very same queries live for the days the rollup does
not cover. One definition, so the rollup and the raw query cannot disagree on a count.

Every query groups by `d` (local day of filing) and `m` (marketplace id); count queries add a
key `k` and a count `n`."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime, time
from functools import lru_cache

from django.db import connection
from django.db.models import Count, F, IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate

from cases.calendar import VN_TZ, working_days_between
from cases.models import Case, Shipment
from stats.models import DailyCount

LEGAL_WORKING_DAYS = 7
Kind = DailyCount.Kind

# Time to resolution is kept as a histogram of fixed buckets: (tier up to, bucket width) in
# seconds — 30 min under a day, 1 h under a week, 4 h under 30 days, 1 day under a year, one
# bucket beyond. A percentile read from it is within one bucket width of the exact one.
TIERS = ((86_400, 1_800), (7 * 86_400, 3_600), (30 * 86_400, 14_400), (365 * 86_400, 86_400))


def _bucket_bounds() -> list[tuple[int, int | None]]:
    bounds: list[tuple[int, int | None]] = []
    lo = 0
    for upto, width in TIERS:
        bounds += [(s, s + width) for s in range(lo, upto, width)]
        lo = upto
    return [*bounds, (lo, None)]


BUCKETS = _bucket_bounds()  # index -> (from, to) seconds; the last one is open


def bucket_of(seconds: float) -> int:
    """The bucket of a duration (negative ones count as 0), as the SQL below computes it."""
    s, base, lo = max(0, math.floor(seconds)), 0, 0
    for upto, width in TIERS:
        if s < upto:
            return base + (s - lo) // width
        base, lo = base + (upto - lo) // width, upto
    return base


def _seconds_sql() -> str:
    """Whole seconds from filing to resolution (floor)."""
    t = Case._meta.db_table
    if connection.vendor == "postgresql":
        return f'FLOOR(EXTRACT(EPOCH FROM ("{t}"."resolved_at" - "{t}"."filed_at")))::bigint'
    # julianday is a float of days: the epsilon keeps whole seconds whole before truncating.
    days = f'(julianday("{t}"."resolved_at") - julianday("{t}"."filed_at"))'
    return f"CAST({days} * 86400.0 + 0.001 AS INTEGER)"


def _bucket_sql() -> str:
    s = f"({_seconds_sql()})"
    whens, base, lo = [f"WHEN {s} < 0 THEN 0"], 0, 0
    for upto, width in TIERS:
        whens.append(f"WHEN {s} < {upto} THEN {base} + ({s} - {lo}) / {width}")
        base, lo = base + (upto - lo) // width, upto
    return f"CASE {' '.join(whens)} ELSE {base} END"


def _grouped(cases: QuerySet[Case]) -> QuerySet[Case]:
    return cases.order_by().annotate(d=TruncDate("filed_at", tzinfo=VN_TZ), m=F("marketplace_id"))


def case_counts(cases: QuerySet[Case]) -> QuerySet:
    """Rows (d, m, reason, outcome, filed, resolved, breached, mediated)."""
    return _grouped(cases).values("d", "m", "reason", "outcome").annotate(
        filed=Count("pk"), resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
        breached=Count("pk", filter=Q(sla_breached_at__isnull=False)),
        mediated=Count("pk", filter=Q(mediator__isnull=False)))


def key_counts(cases: QuerySet[Case]) -> dict[str, QuerySet]:
    """Per kind, rows (d, m, k, n) computed in SQL: cases per seller, per carrier that
    delivered the order (a case counts once per carrier), per resolution-time bucket."""
    base = _grouped(cases)
    bucket = RawSQL(_bucket_sql(), [], output_field=IntegerField())  # noqa: S611 - constant SQL
    return {
        Kind.SELLER: base.annotate(k=F("seller_id")).values("d", "m", "k").annotate(n=Count("pk")),
        Kind.CARRIER: (base.filter(order__shipments__direction=Shipment.Direction.FORWARD)
                       .annotate(k=F("order__shipments__carrier_id")).values("d", "m", "k")
                       .annotate(n=Count("pk", distinct=True))),
        Kind.HOURS: (base.filter(resolved_at__isnull=False).annotate(k=bucket)
                     .values("d", "m", "k").annotate(n=Count("pk"))),
    }


@lru_cache(maxsize=65_536)
def working_days(filed: date, resolved: date) -> int:
    noon = time(12, tzinfo=VN_TZ)
    return working_days_between(datetime.combine(filed, noon), datetime.combine(resolved, noon))


def workday_counts(cases: QuerySet[Case]) -> list[tuple[date, int, int, int]]:
    """Rows (d, m, k, n): resolved cases by working days from filing to resolution (the
    Vietnamese calendar is applied in Python, once per pair of days, never per case)."""
    pairs = (_grouped(cases).filter(resolved_at__isnull=False)
             .annotate(rd=TruncDate("resolved_at", tzinfo=VN_TZ))
             .values_list("d", "m", "rd").annotate(n=Count("pk")))
    out: Counter = Counter()
    for d, m, rd, n in pairs:
        out[(d, m, working_days(d, rd))] += n
    return [(d, m, k, n) for (d, m, k), n in out.items()]


def percentiles_from_buckets(hist: dict[int, int], ps: tuple[float, ...]) -> list[float | None]:
    """percentile_cont over the histogram: the i-th of c durations in bucket [a, b) is taken at
    a + (b - a)(i + ½)/c, then ranks are interpolated as percentile_cont does. Each estimate
    is in its duration's bucket, so the result is within one bucket width of the exact value
    (durations over a year count as one year)."""
    items = sorted((b, c) for b, c in hist.items() if c > 0)
    n = sum(c for _, c in items)

    def value(rank: int) -> float:
        seen = 0
        for b, c in items:
            if rank < seen + c:
                lo, hi = BUCKETS[min(b, len(BUCKETS) - 1)]
                return float(lo) if hi is None else lo + (hi - lo) * (rank - seen + 0.5) / c
            seen += c
        raise IndexError(rank)

    out: list[float | None] = []
    for p in ps:
        if n == 0:
            out.append(None)
            continue
        pos = p * (n - 1)
        lo = int(pos)
        v = value(lo)
        out.append(v if pos == lo else v + (value(lo + 1) - v) * (pos - lo))
    return out


__all__ = ["BUCKETS", "LEGAL_WORKING_DAYS", "TIERS", "bucket_of", "case_counts", "key_counts",
           "percentiles_from_buckets", "workday_counts", "working_days"]

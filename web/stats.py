"""Statistics for the authority (Sở Công Thương Quảng Ninh): selectors that aggregate in the
database, so they stay fast over a million cases.

Public API (keyword-only, plain data out):
    stats_summary(*, date_from, date_to, marketplace=None) -> dict
    cases_by(*, dimension, date_from, date_to, marketplace=None) -> list[dict]
    cases_by_week(*, date_from, date_to, marketplace=None) -> list[dict]
    resolution_times(*, date_from, date_to, marketplace=None) -> dict
    seller_dispute_rates(*, date_from, date_to, marketplace=None, limit=20) -> list[dict]
    stats_csv(summary) -> str

The cohort is the cases *filed* in [date_from, date_to] (local dates, Asia/Ho_Chi_Minh, both
inclusive); resolution figures are over those of them that are resolved. Each dimension is one
GROUP BY; the percentiles are `percentile_cont` on PostgreSQL and two offset reads of a sorted
column on SQLite; the 7-working-day share groups by (filed date, resolved date) pairs, so the
Python work is per pair of days, not per case.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate, TruncWeek

from cases.calendar import VN_TZ, working_days_between
from cases.models import Case, Order, Outcome, Reason, Shipment
from partners.models import Partner

LEGAL_WORKING_DAYS = 7
DIMENSIONS = ("reason", "marketplace", "seller", "carrier", "outcome")


class PercentileCont(Aggregate):
    """PostgreSQL `percentile_cont(p) WITHIN GROUP (ORDER BY expr)`."""

    function = "percentile_cont"
    template = "%(function)s(%(p)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, p: float, **extra) -> None:
        super().__init__(expression, p=float(p), **extra)


def _bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    start = datetime.combine(date_from, time.min, tzinfo=VN_TZ)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=VN_TZ)
    return start, end


def _cohort(date_from: date, date_to: date, marketplace: str | None) -> QuerySet[Case]:
    start, end = _bounds(date_from, date_to)
    qs = Case.objects.filter(filed_at__gte=start, filed_at__lt=end)
    if marketplace:
        qs = qs.filter(marketplace__code=marketplace)
    return qs.order_by()


def _rows(pairs, labels: dict, total: int) -> list[dict]:
    rows = [{"key": k if k is not None else "", "label": str(labels.get(k, k or "—")), "count": n,
             "share": (n / total) if total else 0.0} for k, n in pairs]
    rows.sort(key=lambda r: (-r["count"], r["label"]))
    return rows


def cases_by(*, dimension: str, date_from: date, date_to: date, marketplace: str | None = None,
             limit: int = 20) -> list[dict]:
    """Cases of the cohort counted by one dimension: [{key, label, count, share}], largest first."""
    qs = _cohort(date_from, date_to, marketplace)
    total = qs.count()
    if dimension == "reason":
        pairs = qs.values_list("reason").annotate(n=Count("pk"))
        return _rows(pairs, dict(Reason.choices), total)
    if dimension == "outcome":
        pairs = qs.exclude(outcome="").values_list("outcome").annotate(n=Count("pk"))
        return _rows(pairs, dict(Outcome.choices), total)
    if dimension == "marketplace":
        pairs = qs.values_list("marketplace_id").annotate(n=Count("pk"))
        names = dict(Partner.objects.filter(kind=Partner.Kind.MARKETPLACE).values_list("pk", "name"))
        return _rows(pairs, names, total)
    if dimension == "seller":
        pairs = list(qs.values_list("seller_id").annotate(n=Count("pk")).order_by("-n")[:limit])
        from cases.models import Seller

        names = dict(Seller.objects.filter(pk__in=[p[0] for p in pairs]).values_list("pk", "name"))
        return _rows(pairs, names, total)
    if dimension == "carrier":
        # The carrier that delivered (forward shipment) the order the case is about.
        pairs = (Shipment.objects.filter(direction=Shipment.Direction.FORWARD,
                                         order__cases__in=qs.values("pk"))
                 .values_list("carrier_id").annotate(n=Count("order__cases", distinct=True))
                 .order_by())
        names = dict(Partner.objects.filter(kind=Partner.Kind.CARRIER).values_list("pk", "name"))
        return _rows(pairs, names, total)
    raise ValueError(f"unknown dimension {dimension!r}")


def _duration_seconds_sql() -> str:
    table = Case._meta.db_table
    if connection.vendor == "postgresql":
        return f'EXTRACT(EPOCH FROM ("{table}"."resolved_at" - "{table}"."filed_at"))'
    return f'((julianday("{table}"."resolved_at") - julianday("{table}"."filed_at")) * 86400.0)'


def _percentiles_sqlite(qs: QuerySet[Case], ps: tuple[float, ...], n: int) -> list[float | None]:
    """Linear-interpolated percentiles (as percentile_cont) by reading two rows of the sorted
    durations at the right offsets: the database sorts, Python never loads the column."""
    duration = RawSQL(_duration_seconds_sql(), [])  # noqa: S611 - constant SQL, no input
    ordered = qs.annotate(d=duration).order_by("d").values_list("d", flat=True)
    out: list[float | None] = []
    for p in ps:
        if n == 0:
            out.append(None)
            continue
        pos = p * (n - 1)
        lo = int(pos)
        values = list(ordered[lo:lo + 2])
        if len(values) == 1 or pos == lo:
            out.append(float(values[0]))
        else:
            out.append(float(values[0]) + (float(values[1]) - float(values[0])) * (pos - lo))
    return out


def resolution_times(*, date_from: date, date_to: date, marketplace: str | None = None) -> dict:
    """Median and 90th percentile time from filing to resolution (hours), and the share resolved
    within the legal 7 working days (Law 19/2023), over the cohort's resolved cases."""
    resolved = _cohort(date_from, date_to, marketplace).filter(resolved_at__isnull=False)
    n = resolved.count()
    if n and connection.vendor == "postgresql":
        expr = RawSQL(_duration_seconds_sql(), [], output_field=FloatField())  # noqa: S611 - constant SQL
        agg = resolved.aggregate(p50=PercentileCont(expr, 0.5), p90=PercentileCont(expr, 0.9))
        p50, p90 = agg["p50"], agg["p90"]
    else:
        p50, p90 = _percentiles_sqlite(resolved, (0.5, 0.9), n)
    within = 0
    pairs = (resolved.annotate(fd=TruncDate("filed_at", tzinfo=VN_TZ),
                               rd=TruncDate("resolved_at", tzinfo=VN_TZ))
             .values_list("fd", "rd").annotate(c=Count("pk")).order_by())
    noon = time(12, tzinfo=VN_TZ)
    for filed_day, resolved_day, count in pairs:
        days = working_days_between(datetime.combine(filed_day, noon),
                                    datetime.combine(resolved_day, noon))
        if days <= LEGAL_WORKING_DAYS:
            within += count
    return {
        "resolved": n,
        "median_hours": round(p50 / 3600, 1) if p50 is not None else None,
        "p90_hours": round(p90 / 3600, 1) if p90 is not None else None,
        "within_legal": within,
        "within_legal_share": (within / n) if n else None,
        "legal_working_days": LEGAL_WORKING_DAYS,
    }


def seller_dispute_rates(*, date_from: date, date_to: date, marketplace: str | None = None,
                         limit: int = 20) -> list[dict]:
    """Sellers with the most cases filed in the period: cases, orders placed in the period and
    the dispute rate (cases / orders). Two GROUP BY queries."""
    from cases.models import Seller

    top = list(_cohort(date_from, date_to, marketplace).values_list("seller_id")
               .annotate(n=Count("pk")).order_by("-n", "seller_id")[:limit])
    ids = [s for s, _ in top]
    start, end = _bounds(date_from, date_to)
    orders = dict(Order.objects.filter(seller_id__in=ids, placed_at__gte=start, placed_at__lt=end)
                  .order_by().values_list("seller_id").annotate(n=Count("pk")))
    names = dict(Seller.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [{"key": sid, "label": names.get(sid, str(sid)), "cases": n, "orders": orders.get(sid, 0),
             "rate": (n / orders[sid]) if orders.get(sid) else None} for sid, n in top]


def cases_by_week(*, date_from: date, date_to: date, marketplace: str | None = None) -> list[dict]:
    """Cases filed per week (Monday first, local time), every week of the period present:
    [{week: date, filed, resolved}] — resolved counts those of the week's filings resolved since."""
    qs = _cohort(date_from, date_to, marketplace)
    rows = {r["w"].date() if isinstance(r["w"], datetime) else r["w"]: r for r in
            qs.annotate(w=TruncWeek("filed_at", tzinfo=VN_TZ)).values("w").annotate(
                filed=Count("pk"), resolved=Count("pk", filter=Q(resolved_at__isnull=False)))}
    week = date_from - timedelta(days=date_from.weekday())
    out = []
    while week <= date_to:
        row = rows.get(week, {})
        out.append({"week": week, "filed": row.get("filed", 0), "resolved": row.get("resolved", 0)})
        week += timedelta(days=7)
    return out


def stats_summary(*, date_from: date, date_to: date, marketplace: str | None = None) -> dict:
    """Everything the statistics page shows, for one period and optionally one marketplace."""
    qs = _cohort(date_from, date_to, marketplace)
    totals = qs.aggregate(filed=Count("pk"), resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
                          breached=Count("pk", filter=Q(sla_breached_at__isnull=False)),
                          mediated=Count("pk", filter=Q(mediator__isnull=False)))
    kw = {"date_from": date_from, "date_to": date_to, "marketplace": marketplace}
    return {
        "date_from": date_from, "date_to": date_to, "marketplace": marketplace,
        "totals": totals,
        "by_reason": cases_by(dimension="reason", **kw),
        "by_marketplace": cases_by(dimension="marketplace", **kw),
        "by_seller": seller_dispute_rates(**kw),
        "by_carrier": cases_by(dimension="carrier", **kw),
        "by_outcome": cases_by(dimension="outcome", **kw),
        "resolution": resolution_times(**kw),
        "by_week": cases_by_week(**kw),
    }


def stats_csv(summary: dict) -> str:
    """One CSV with a section column, for spreadsheets at the authority (UTF-8 with BOM)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(["section", "key", "label", "count", "share_or_rate", "orders"])
    w.writerow(["period", "", f"{summary['date_from']}..{summary['date_to']}", "", "",
                summary.get("marketplace") or ""])
    for key, value in summary["totals"].items():
        w.writerow(["totals", key, key, value, "", ""])
    for section in ("by_reason", "by_marketplace", "by_carrier", "by_outcome"):
        for row in summary[section]:
            w.writerow([section, row["key"], row["label"], row["count"], f"{row['share']:.4f}", ""])
    for row in summary.get("by_week", []):
        w.writerow(["by_week", row["week"].isoformat(), "", row["filed"], "", row["resolved"]])
    for row in summary["by_seller"]:
        rate = "" if row["rate"] is None else f"{row['rate']:.4f}"
        w.writerow(["by_seller", row["key"], row["label"], row["cases"], rate, row["orders"]])
    res = summary["resolution"]
    for key in ("resolved", "median_hours", "p90_hours", "within_legal", "within_legal_share"):
        w.writerow(["resolution", key, key, "" if res[key] is None else res[key], "", ""])
    return buf.getvalue()


__all__ = ["DIMENSIONS", "cases_by", "cases_by_week", "resolution_times", "seller_dispute_rates", "stats_csv",
           "stats_summary"]

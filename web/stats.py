"""Statistics for the authority (Sở Công Thương Quảng Ninh), fast over millions of cases.

Public API (keyword-only, plain data out):
    stats_summary(*, date_from, date_to, marketplace=None) -> dict
    cases_by(*, dimension, date_from, date_to, marketplace=None) -> list[dict]
    cases_by_week(*, date_from, date_to, marketplace=None) -> list[dict]
    resolution_times(*, date_from, date_to, marketplace=None) -> dict
    seller_dispute_rates(*, date_from, date_to, marketplace=None, limit=20) -> list[dict]
    stats_csv(summary) -> str

The cohort is the cases *filed* in [date_from, date_to] (local dates, Asia/Ho_Chi_Minh, both
inclusive); resolution figures are over those of them that are resolved. The days the daily
rollup (`stats` app) covers are summed from it; the others (today, days changed since the last
pass, everything before the rollup is built) are counted live from `cases_case` with the same
grouped queries (`stats.tally`), so every count is exact either way. Median and p90 are exact
(`percentile_cont`) when no rolled-up day is in the period, otherwise read from the rollup's
histogram: within one bucket width (30 min under a day, 1 h under a week, 4 h under 30 days,
1 day under a year) of the exact value.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from cases.calendar import VN_TZ
from cases.models import Case, Order, Outcome, Reason, Seller
from partners.models import Partner
from stats import rollup, tally
from stats.models import DailyCases, DailyCount, MonthlyCount

LEGAL_WORKING_DAYS = tally.LEGAL_WORKING_DAYS
DIMENSIONS = ("reason", "marketplace", "seller", "carrier", "outcome")
Kind = DailyCount.Kind


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


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and runs[-1][1] + timedelta(days=1) == d:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


@dataclass
class _Tally:
    """Every count of the period, merged from the rollup and the live query."""

    # day -> [filed, resolved, breached, mediated]
    days: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    groups: Counter = field(default_factory=Counter)  # (marketplace, reason, outcome) -> filed
    keys: dict = field(default_factory=lambda: defaultdict(Counter))  # kind -> key -> cases
    live: QuerySet[Case] | None = None  # the live part of the cohort
    rolled_up: bool = False  # some days came from the rollup

    def add_day(self, day: date, *counts: int) -> None:
        row = self.days[day]
        for i, n in enumerate(counts):
            row[i] += n

    @property
    def totals(self) -> dict:
        sums = [sum(r[i] for r in self.days.values()) for i in range(4)]
        return dict(zip(("filed", "resolved", "breached", "mediated"), sums, strict=True))


def _in(marketplace: str | None) -> Q:
    return Q(marketplace__code=marketplace) if marketplace else Q()


def _days_q(days: set[date]) -> Q:
    where = Q()
    for a, b in _runs(sorted(days)):
        where |= Q(day__range=(a, b))
    return where


def _from_rollup(t: _Tally, cover: rollup.Coverage, marketplace: str | None) -> None:
    """Day rows for the covered days; for the key counts, month rows for the covered months
    and day rows for the other covered days."""
    rows = DailyCases.objects.filter(_days_q(cover.days) & _in(marketplace)).order_by()
    for day, *counts in rows.values_list("day").annotate(
            Sum("filed"), Sum("resolved"), Sum("breached"), Sum("mediated")):
        t.add_day(day, *counts)
    for m, reason, outcome, n in rows.values_list("marketplace_id", "reason", "outcome").annotate(
            Sum("filed")):
        t.groups[(m, reason, outcome)] += n
    other_days = cover.days - {m + timedelta(days=i) for m in cover.months
                               for i in range(rollup.month_end(m).day)}
    keyed = []
    if other_days:
        keyed.append(DailyCount.objects.filter(_days_q(other_days) & _in(marketplace)))
    if cover.months:
        keyed.append(MonthlyCount.objects.filter(Q(month__in=cover.months) & _in(marketplace)))
    for qs in keyed:
        for kind, key, n in qs.order_by().values_list("kind", "key").annotate(Sum("cases")):
            t.keys[kind][key] += n
    t.rolled_up = True


def _from_cases(t: _Tally, runs: list[tuple[date, date]], marketplace: str | None) -> None:
    where = Q()
    for a, b in runs:
        start, end = _bounds(a, b)
        where |= Q(filed_at__gte=start, filed_at__lt=end)
    cases = Case.objects.filter(where & _in(marketplace)).order_by()
    for r in tally.case_counts(cases):
        t.add_day(r["d"], r["filed"], r["resolved"], r["breached"], r["mediated"])
        t.groups[(r["m"], r["reason"], r["outcome"])] += r["filed"]
    for kind, rows in tally.key_counts(cases).items():
        for r in rows:
            t.keys[kind][r["k"]] += r["n"]
    for _, _, k, n in tally.workday_counts(cases):
        t.keys[Kind.WORKDAYS][k] += n
    t.live = cases


def _tally(date_from: date, date_to: date, marketplace: str | None) -> _Tally:
    """Rollup for the days it covers truly, the live query for the rest."""
    cover = rollup.coverage(date_from, date_to)
    period = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    t = _Tally()
    if cover.days:
        _from_rollup(t, cover, marketplace)
    live = [d for d in period if d not in cover.days]
    if live:
        _from_cases(t, _runs(live), marketplace)
    return t


def _rows(pairs, labels: dict, total: int) -> list[dict]:
    rows = [{"key": k if k is not None else "", "label": str(labels.get(k, k or "—")), "count": n,
             "share": (n / total) if total else 0.0} for k, n in pairs if n]
    rows.sort(key=lambda r: (-r["count"], r["label"]))
    return rows


def _top(counter: Counter, limit: int) -> list[tuple[int, int]]:
    return sorted(((k, n) for k, n in counter.items() if n), key=lambda kn: (-kn[1], kn[0]))[:limit]


def _by(t: _Tally, dimension: str, limit: int = 20) -> list[dict]:
    total = t.totals["filed"]
    if dimension in ("reason", "outcome", "marketplace"):
        at = {"marketplace": 0, "reason": 1, "outcome": 2}[dimension]
        sums: Counter = Counter()
        for key, n in t.groups.items():
            if dimension != "outcome" or key[2]:
                sums[key[at]] += n
        if dimension == "marketplace":
            labels = dict(Partner.objects.filter(kind=Partner.Kind.MARKETPLACE).values_list("pk", "name"))
        else:
            labels = dict(Reason.choices if dimension == "reason" else Outcome.choices)
        return _rows(sums.items(), labels, total)
    if dimension == "seller":
        top = _top(t.keys[Kind.SELLER], limit)
        names = dict(Seller.objects.filter(pk__in=[k for k, _ in top]).values_list("pk", "name"))
        return _rows(top, names, total)
    if dimension == "carrier":
        names = dict(Partner.objects.filter(kind=Partner.Kind.CARRIER).values_list("pk", "name"))
        return _rows(t.keys[Kind.CARRIER].items(), names, total)
    raise ValueError(f"unknown dimension {dimension!r}")


def cases_by(*, dimension: str, date_from: date, date_to: date, marketplace: str | None = None,
             limit: int = 20) -> list[dict]:
    """Cases of the cohort counted by one dimension: [{key, label, count, share}], largest first."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    return _by(_tally(date_from, date_to, marketplace), dimension, limit)


def _duration_seconds_sql() -> str:
    table = Case._meta.db_table
    if connection.vendor == "postgresql":
        return f'EXTRACT(EPOCH FROM ("{table}"."resolved_at" - "{table}"."filed_at"))'
    return f'((julianday("{table}"."resolved_at") - julianday("{table}"."filed_at")) * 86400.0)'


def _exact_percentiles(resolved: QuerySet[Case], ps: tuple[float, ...], n: int) -> list[float | None]:
    """percentile_cont on PostgreSQL; on SQLite two rows of the sorted durations read at the
    right offsets (the database sorts, Python never loads the column)."""
    if n == 0:
        return [None for _ in ps]
    duration = RawSQL(_duration_seconds_sql(), [], output_field=FloatField())  # noqa: S611 - constant SQL
    if connection.vendor == "postgresql":
        agg = resolved.aggregate(**{f"p{i}": PercentileCont(duration, p) for i, p in enumerate(ps)})
        return [agg[f"p{i}"] for i in range(len(ps))]
    ordered = resolved.annotate(d=duration).order_by("d").values_list("d", flat=True)
    out: list[float | None] = []
    for p in ps:
        pos = p * (n - 1)
        lo = int(pos)
        values = list(ordered[lo:lo + 2])
        if len(values) == 1 or pos == lo:
            out.append(float(values[0]))
        else:
            out.append(float(values[0]) + (float(values[1]) - float(values[0])) * (pos - lo))
    return out


def _resolution(t: _Tally) -> dict:
    n = t.totals["resolved"]
    if t.rolled_up:
        p50, p90 = tally.percentiles_from_buckets(t.keys[Kind.HOURS], (0.5, 0.9))
    else:
        p50, p90 = _exact_percentiles(t.live.filter(resolved_at__isnull=False), (0.5, 0.9), n)
    within = sum(c for k, c in t.keys[Kind.WORKDAYS].items() if k <= LEGAL_WORKING_DAYS)
    return {
        "resolved": n,
        "median_hours": round(p50 / 3600, 1) if p50 is not None else None,
        "p90_hours": round(p90 / 3600, 1) if p90 is not None else None,
        "within_legal": within,
        "within_legal_share": (within / n) if n else None,
        "legal_working_days": LEGAL_WORKING_DAYS,
    }


def resolution_times(*, date_from: date, date_to: date, marketplace: str | None = None) -> dict:
    """Median and 90th percentile time from filing to resolution (hours), and the share resolved
    within the legal 7 working days (Law 19/2023), over the cohort's resolved cases."""
    return _resolution(_tally(date_from, date_to, marketplace))


def _sellers(t: _Tally, date_from: date, date_to: date, limit: int) -> list[dict]:
    top = _top(t.keys[Kind.SELLER], limit)
    ids = [s for s, _ in top]
    start, end = _bounds(date_from, date_to)
    orders = dict(Order.objects.filter(seller_id__in=ids, placed_at__gte=start, placed_at__lt=end)
                  .order_by().values_list("seller_id").annotate(n=Count("pk")))
    names = dict(Seller.objects.filter(pk__in=ids).values_list("pk", "name"))
    return [{"key": sid, "label": names.get(sid, str(sid)), "cases": n, "orders": orders.get(sid, 0),
             "rate": (n / orders[sid]) if orders.get(sid) else None} for sid, n in top]


def seller_dispute_rates(*, date_from: date, date_to: date, marketplace: str | None = None,
                         limit: int = 20) -> list[dict]:
    """Sellers with the most cases filed in the period: cases, orders placed in the period and
    the dispute rate (cases / orders)."""
    return _sellers(_tally(date_from, date_to, marketplace), date_from, date_to, limit)


def _weeks(t: _Tally, date_from: date, date_to: date) -> list[dict]:
    per_week: dict = defaultdict(lambda: [0, 0])
    for day, (filed, resolved, _, _) in t.days.items():
        week = per_week[day - timedelta(days=day.weekday())]
        week[0] += filed
        week[1] += resolved
    week = date_from - timedelta(days=date_from.weekday())
    out = []
    while week <= date_to:
        filed, resolved = per_week.get(week, (0, 0))
        out.append({"week": week, "filed": filed, "resolved": resolved})
        week += timedelta(days=7)
    return out


def cases_by_week(*, date_from: date, date_to: date, marketplace: str | None = None) -> list[dict]:
    """Cases filed per week (Monday first, local time), every week of the period present:
    [{week: date, filed, resolved}] — resolved counts those of the week's filings resolved since."""
    return _weeks(_tally(date_from, date_to, marketplace), date_from, date_to)


def stats_summary(*, date_from: date, date_to: date, marketplace: str | None = None) -> dict:
    """Everything the statistics page shows, for one period and optionally one marketplace."""
    t = _tally(date_from, date_to, marketplace)
    return {
        "date_from": date_from, "date_to": date_to, "marketplace": marketplace,
        "totals": t.totals,
        "by_reason": _by(t, "reason"),
        "by_marketplace": _by(t, "marketplace"),
        "by_seller": _sellers(t, date_from, date_to, 20),
        "by_carrier": _by(t, "carrier"),
        "by_outcome": _by(t, "outcome"),
        "resolution": _resolution(t),
        "by_week": _weeks(t, date_from, date_to),
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

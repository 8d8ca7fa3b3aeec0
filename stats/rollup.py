"""Building the rollup and keeping it true.

A day is built only once it is closed — it ended more than GRACE ago — so every filing of it
has committed (`case_file` stamps `filed_at` at the start of a short transaction). After that
its figures change when (a) one of its cases changes: every case event bumps the day's
version after commit (`on_case_event`, one UPDATE); (b) a case appears on it without going
through filing, or a shipment is recorded for one of its cases: both have ids above the
watermark, so readers treat those days as live and the next pass marks them stale. Stale
and unbuilt days are read live from `cases_case`; the periodic pass (`rollup_refresh`, Celery
beat and `manage.py stats_rollup`) rebuilds them, then re-sums their months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cases.calendar import VN_TZ
from cases.events import CaseEvent
from cases.models import Case, Shipment
from odr.joined import prepared, table
from stats import tally
from stats.models import DailyCases, DailyCount, MonthlyCount, RollupDay, RollupMonth, RollupWatermark

GRACE = timedelta(hours=1)
ANALYZE_AFTER_DAYS = 28


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VN_TZ)


def cases_filed(date_from: date, date_to: date) -> QuerySet[Case]:
    return Case.objects.filter(filed_at__gte=day_start(date_from),
                               filed_at__lt=day_start(date_to + timedelta(days=1))).order_by()


def last_closed_day(now: datetime | None = None) -> date:
    """The newest day that may be rolled up: it ended at least GRACE ago."""
    return (timezone.localtime(now or timezone.now(), VN_TZ) - GRACE).date() - timedelta(days=1)


def month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _days_of(cases: QuerySet[Case]) -> set[date]:
    return set(cases.order_by().annotate(d=TruncDate("filed_at", tzinfo=VN_TZ))
               .values_list("d", flat=True).distinct())


# --- reading ---------------------------------------------------------------------------------
@dataclass
class Coverage:
    days: set[date]  # days whose rows are true now
    months: list[date]  # months inside the period whose MonthlyCount rows are true now


def coverage(date_from: date, date_to: date) -> Coverage:
    """What of [date_from, date_to] the rollup covers truly. The watermark is read before the
    days: a pass committing in between has marked stale what it moved past."""
    mark = RollupWatermark.objects.values_list("last_case_pk", "last_shipment_pk").first() or (0, 0)
    versions = dict(RollupDay.objects.filter(day__range=(date_from, date_to), built_version=F("version"))
                    .values_list("day", "version"))
    if versions:
        cases = cases_filed(date_from, date_to)
        for day in _days_of(cases.filter(pk__gt=mark[0])) | _days_of(
                cases.filter(order__shipments__pk__gt=mark[1])):
            versions.pop(day, None)
    first = date_from if date_from.day == 1 else month_end(date_from) + timedelta(days=1)
    months = []
    if versions and month_end(first) <= date_to:
        months = [month for month, summed in RollupMonth.objects.filter(
                      month__gte=first, month__lte=date_to).values_list("month", "days_version")
                  if month_end(month) <= date_to and _month_current(month, summed, versions)]
    return Coverage(days=set(versions), months=sorted(months))


def _month_current(month: date, summed: int, versions: dict[date, int]) -> bool:
    days = [month + timedelta(days=i) for i in range(month_end(month).day)]
    return all(d in versions for d in days) and sum(versions[d] for d in days) == summed


def fresh_days(date_from: date, date_to: date) -> set[date]:
    return coverage(date_from, date_to).days


# --- keeping it true -------------------------------------------------------------------------
def changes_a_filed_case(event: CaseEvent) -> bool:
    """A filing needs nothing: its day is not closed yet, and new ids are caught by the
    watermark anyway."""
    return event.action != "file"


def on_case_event(event: CaseEvent) -> None:
    """Subscriber: the case's day (if rolled up) is stale from now on."""
    if changes_a_filed_case(event):
        mark_case_stale(event.case_id)


@cache
def _stale_sql(vendor: str) -> tuple[str, tuple]:
    """UPDATE the day the case was filed on (in Vietnam): written once, as every case event
    runs it (the ORM compiled this query anew each time, more CPU than the query takes)."""
    qn = connection.ops.quote_name
    day, params = connection.ops.datetime_cast_date_sql(qn("filed_at"), (), str(VN_TZ))
    return (f"UPDATE {table(RollupDay)} SET {qn('version')} = {qn('version')} + 1 "  # noqa: S608
            f"WHERE {qn('day')} = (SELECT {day} FROM {table(Case)} WHERE {qn(Case._meta.pk.column)} = %s)",
            tuple(params))


def mark_case_stale(case_id: int) -> None:
    sql, params = _stale_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(prepared("case_day_stale", sql), [*params, case_id])


def _advance_watermark() -> None:
    """Mark stale the days of cases and shipments newer than the watermark, and move it to the
    newest ids, in one transaction (readers see the old mark or the stale days)."""
    with transaction.atomic():
        mark, _ = RollupWatermark.objects.select_for_update().get_or_create(pk=1)
        top_case = Case.objects.aggregate(m=Max("pk"))["m"] or 0
        top_ship = Shipment.objects.aggregate(m=Max("pk"))["m"] or 0
        if RollupDay.objects.exists():
            days = _days_of(Case.objects.filter(pk__gt=mark.last_case_pk, pk__lte=top_case))
            days |= _days_of(Case.objects.filter(order__shipments__pk__gt=mark.last_shipment_pk,
                                                 order__shipments__pk__lte=top_ship))
            stale = RollupDay.objects.filter(day__in=days)
            list(stale.select_for_update().order_by("day").values_list("day"))  # locks in day order
            stale.update(version=F("version") + 1)
        mark.last_case_pk, mark.last_shipment_pk = top_case, top_ship
        mark.save()


# --- building --------------------------------------------------------------------------------
def _insert(model, columns: list[str], rows: QuerySet, select: str, params: tuple = ()) -> None:
    """INSERT … SELECT from a grouped queryset: the rows never travel through Python."""
    sql, inner = rows.query.sql_with_params()
    qn = connection.ops.quote_name
    into = f"{qn(model._meta.db_table)} ({', '.join(map(qn, columns))})"
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {into} SELECT {select} FROM ({sql}) sub", (*params, *inner))  # noqa: S608


def _build_day(day: date, *, only_stale: bool) -> bool:
    """Replace the day's rows with what `stats.tally` counts now, under the day's row lock
    (a concurrent pass skips the day; a concurrent bump waits and lands after)."""
    with transaction.atomic():
        row = RollupDay.objects.select_for_update(skip_locked=True).filter(day=day).first()
        if row is None or (only_stale and row.built_version == row.version):
            return False
        DailyCases.objects.filter(day=day).delete()
        DailyCount.objects.filter(day=day).delete()
        cases = cases_filed(day, day)
        _insert(DailyCases, ["day", "marketplace_id", "reason", "outcome", "filed", "resolved",
                             "breached", "mediated"], tally.case_counts(cases),
                "d, m, reason, outcome, filed, resolved, breached, mediated")
        for kind, rows in tally.key_counts(cases).items():
            _insert(DailyCount, ["day", "marketplace_id", "kind", "key", "cases"], rows,
                    "d, m, %s, k, n", (kind,))
        DailyCount.objects.bulk_create(
            DailyCount(day=d, marketplace_id=m, kind=DailyCount.Kind.WORKDAYS, key=k, cases=n)
            for d, m, k, n in tally.workday_counts(cases))
        RollupDay.objects.filter(day=day).update(version=F("version") + 1,
                                                 built_version=row.version + 1, built_at=timezone.now())
    return True


def _build_month(month: date) -> bool:
    """Sum the month's DailyCount rows, if every day of it is fresh (their rows are locked
    meanwhile, so the sum and the versions recorded belong together). Otherwise the old sum
    stays: readers already ignore it (its versions no longer add up), and a reader that chose
    it a moment ago still finds it."""
    last = month_end(month)
    with transaction.atomic():
        versions = list(RollupDay.objects.select_for_update().filter(
            day__range=(month, last), built_version=F("version")).order_by("day")
            .values_list("version", flat=True))
        if len(versions) != last.day:
            return False
        MonthlyCount.objects.filter(month=month).delete()
        RollupMonth.objects.filter(month=month).delete()
        rows = (DailyCount.objects.filter(day__range=(month, last)).order_by()
                .values("marketplace_id", "kind", "key").annotate(n=Sum("cases")))
        _insert(MonthlyCount, ["month", "marketplace_id", "kind", "key", "cases"], rows,
                "%s, marketplace_id, kind, key, n", (month,))
        RollupMonth.objects.create(month=month, days_version=sum(versions))
    return True


def _build(date_from: date, date_to: date, *, only_stale: bool) -> int:
    """Build the days of [date_from, date_to] (all of them, or the unbuilt and stale ones),
    then their months. Their RollupDay rows are committed first, so a change racing the build
    finds a row to bump."""
    have = set(RollupDay.objects.filter(day__range=(date_from, date_to)).values_list("day", flat=True))
    span = (date_to - date_from).days + 1
    RollupDay.objects.bulk_create(
        [RollupDay(day=d) for d in (date_from + timedelta(days=i) for i in range(span)) if d not in have],
        ignore_conflicts=True)
    todo = RollupDay.objects.filter(day__range=(date_from, date_to))
    if only_stale:
        todo = todo.filter(Q(built_version__isnull=True) | Q(built_version__lt=F("version")))
    built = [d for d in todo.order_by("day").values_list("day", flat=True)
             if _build_day(d, only_stale=only_stale)]
    for month in sorted({d.replace(day=1) for d in built}):
        _build_month(month)
    if len(built) >= ANALYZE_AFTER_DAYS and connection.vendor == "postgresql":
        with connection.cursor() as cur:  # a bulk build changes the tables' statistics
            tables = (m._meta.db_table for m in (DailyCases, DailyCount, MonthlyCount))
            cur.execute(f"ANALYZE {', '.join(tables)}")
    return len(built)


def _first_day() -> date | None:
    """The first day of the month of the first filing: whole months are worth summing."""
    first = Case.objects.aggregate(m=Min("filed_at"))["m"]
    return timezone.localtime(first, VN_TZ).date().replace(day=1) if first else None


def rollup_refresh(*, now: datetime | None = None) -> int:
    """The periodic pass: note what changed without an event, then build every closed day
    that is unbuilt or stale. Returns the number of days built."""
    _advance_watermark()
    first, last = _first_day(), last_closed_day(now)
    if first is None or first > last:
        return 0
    return _build(first, last, only_stale=True)


def rollup_rebuild(date_from: date | None = None, date_to: date | None = None, *,
                   now: datetime | None = None) -> int:
    """Build the closed days of [date_from, date_to] again, or the whole rollup from scratch
    (after cases were imported, edited or deleted by SQL). Returns the number of days built."""
    _advance_watermark()
    last = last_closed_day(now)
    if date_from is None and date_to is None:
        for model in (DailyCases, DailyCount, MonthlyCount, RollupMonth, RollupDay):
            model.objects.all().delete()
    date_from = date_from or _first_day()
    date_to = min(date_to or last, last)
    if date_from is None or date_from > date_to:
        return 0
    return _build(date_from, date_to, only_stale=False)


__all__ = ["GRACE", "Coverage", "coverage", "fresh_days", "last_closed_day", "mark_case_stale",
           "on_case_event", "rollup_rebuild", "rollup_refresh"]

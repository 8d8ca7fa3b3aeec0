"""The rollup gives the same statistics as the raw query: every count exactly, the median and
p90 within one histogram bucket; a period mixing rolled-up and live days too."""

from collections import Counter
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stats import tally
from stats.models import DailyCount
from stats.rollup import coverage, fresh_days, rollup_rebuild
from tests import factories as f
from tests.stats.conftest import DAY0, DAYS, NOW, brute, make_case
from web import stats

pytestmark = pytest.mark.django_db

LAST = DAY0 + timedelta(days=DAYS - 1)
AUGUST, SEPTEMBER = date(2026, 8, 1), date(2026, 9, 30)
PERIODS = [(DAY0, LAST, None), (DAY0, LAST, "shopee"),
           (DAY0 + timedelta(days=3), DAY0 + timedelta(days=9), None),
           (AUGUST, SEPTEMBER, None), (AUGUST, SEPTEMBER, "tiki"),  # two whole months
           (DAY0 - timedelta(days=30), LAST + timedelta(days=30), "tiki")]


def _counts(s: dict) -> dict:
    """Everything but the percentiles, keyed for comparison."""
    return {"totals": s["totals"], "weeks": s["by_week"],
            "within": (s["resolution"]["resolved"], s["resolution"]["within_legal"]),
            **{k: {(r["key"], r["label"], r["count"]) for r in s[k]}
               for k in ("by_reason", "by_marketplace", "by_carrier", "by_outcome")},
            "by_seller": [(r["key"], r["cases"], r["orders"]) for r in s["by_seller"]]}


def _check_against_brute(s: dict, date_from, date_to, marketplace) -> None:
    b = brute(date_from, date_to, marketplace)
    assert s["totals"] == b["totals"]
    for dim in ("reason", "outcome", "marketplace", "carrier"):
        assert {r["key"]: r["count"] for r in s[f"by_{dim}"]} == dict(b[dim]), dim
    assert [(r["key"], r["cases"]) for r in s["by_seller"]] == sorted(
        b["seller"].items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert {(w["week"], "filed"): w["filed"] for w in s["by_week"] if w["filed"]} == {
        k: n for k, n in b["weeks"].items() if k[1] == "filed" and n}
    assert sum(w["resolved"] for w in s["by_week"]) == b["totals"]["resolved"]
    assert s["resolution"]["within_legal"] == b["within_legal"]


@pytest.mark.parametrize("period", PERIODS)
def test_rollup_equals_the_raw_query(world, period):
    live = stats.stats_summary(date_from=period[0], date_to=period[1], marketplace=period[2])
    assert rollup_rebuild(now=NOW) > DAYS
    assert fresh_days(DAY0, LAST) == {DAY0 + timedelta(days=i) for i in range(DAYS)}
    assert bool(coverage(*period[:2]).months) == (period[0] <= AUGUST and period[1] >= SEPTEMBER)
    rolled = stats.stats_summary(date_from=period[0], date_to=period[1], marketplace=period[2])
    assert _counts(rolled) == _counts(live)
    _check_against_brute(rolled, *period)
    assert stats.stats_csv(rolled).splitlines()[:-5] == stats.stats_csv(live).splitlines()[:-5]


def test_a_period_mixing_rolled_up_and_live_days(world):
    rollup_rebuild(DAY0 + timedelta(days=2), DAY0 + timedelta(days=8), now=NOW)
    s = stats.stats_summary(date_from=DAY0, date_to=LAST)
    _check_against_brute(s, DAY0, LAST, None)


def _tolerance_hours(durations: list[float], p: float) -> float:
    """One bucket width at the ranks percentile_cont reads, plus the 0.1 h rounding."""
    pos = p * (len(durations) - 1)
    ranks = {int(pos), min(int(pos) + 1, len(durations) - 1)}
    widths = []
    for r in ranks:
        lo, hi = tally.BUCKETS[tally.bucket_of(durations[r])]
        widths.append((hi - lo) / 3600)
    return max(widths) + 0.1


@pytest.mark.parametrize("period", PERIODS[:3])
def test_percentiles_are_within_one_bucket(world, period):
    exact = stats.resolution_times(date_from=period[0], date_to=period[1], marketplace=period[2])
    rollup_rebuild(now=NOW)
    approx = stats.resolution_times(date_from=period[0], date_to=period[1], marketplace=period[2])
    b = brute(*period)
    assert exact["median_hours"] == round(b["p50"] / 3600, 1)
    assert exact["p90_hours"] == round(b["p90"] / 3600, 1)
    for key, p in (("median_hours", 0.5), ("p90_hours", 0.9)):
        assert abs(approx[key] - exact[key]) <= _tolerance_hours(b["durations"], p), key


def test_histogram_buckets_in_sql_match_python(db):
    order_kw = {"marketplace": f.PartnerFactory(code="shopee")}
    edges = [0, 0.2, 0.5, 1, 23.99, 24, 24.5, 167.99, 168, 719, 720, 721, 24 * 364.9, 24 * 365,
             24 * 400, -2]
    for i, hours in enumerate(edges):
        make_case(f.paid_order(**order_kw), filed=NOW - timedelta(days=40) + timedelta(minutes=i),
                  hours=hours)
    rollup_rebuild(now=NOW)
    stored = Counter()
    for key, n in DailyCount.objects.filter(kind="hours").values_list("key", "cases"):
        stored[key] += n
    assert stored == Counter(tally.bucket_of(h * 3600) for h in edges)


def test_percentiles_from_buckets():
    # 4 durations in the 1 h bucket at 30–31 h: estimated at 30h07m30s, 30h22m30s, …
    b = tally.bucket_of(30 * 3600)
    p50, p90 = tally.percentiles_from_buckets({b: 4}, (0.5, 0.9))
    assert p50 == 30.5 * 3600 and 30 * 3600 < p90 < 31 * 3600
    assert tally.percentiles_from_buckets({}, (0.5,)) == [None]
    assert tally.BUCKETS[-1] == (365 * 86_400, None)
    assert tally.percentiles_from_buckets({len(tally.BUCKETS) - 1: 1}, (0.5,)) == [365 * 86_400]


# Pinned, whatever the number of cases: watermark, rollup days, 2 × days of newer rows,
# 2 × DailyCases sums, DailyCount sums, marketplace / seller / carrier names, orders of the top
# sellers (11); with whole months in the period, + the months and their MonthlyCount sums.
ROLLED_UP_QUERIES = {"fortnight": 11, "year": 13}


def test_query_count_over_the_rollup_is_flat(world):
    rollup_rebuild(DAY0 - timedelta(days=300), LAST, now=NOW)  # ~a year, every day rolled up
    for name, date_from in (("fortnight", DAY0), ("year", DAY0 - timedelta(days=300))):
        with CaptureQueriesContext(connection) as ctx:
            stats.stats_summary(date_from=date_from, date_to=LAST)
        assert len(ctx.captured_queries) == ROLLED_UP_QUERIES[name], name

"""A fortnight of cases across two marketplaces (Quốc khánh 2/9 inside it, so the working-day
calendar matters), and the statistics computed the slow obvious way, case by case in Python,
to compare the rollup and the live query against."""

import random
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from cases.calendar import VN_TZ, working_days_between
from cases.models import Case, Shipment
from tests import factories as f

DAY0 = date(2026, 8, 24)  # a Monday; 1–2 September are public holidays
DAYS = 14
NOW = datetime(2026, 10, 1, 9, 0, tzinfo=VN_TZ)  # every day of the fortnight is closed


def make_case(order, *, filed: datetime, reason: str = "damaged", hours: float | None = None,
              outcome: str = "full_refund", breached: bool = False, mediator=None) -> Case:
    """A case row as the workflow leaves it (stats read fields, not the timeline)."""
    case = Case.objects.create(order=order, buyer=order.buyer, seller=order.seller,
                               marketplace=order.marketplace, reason=reason,
                               desired_outcome="full_refund", claimed_amount=100_000,
                               description="Hộp chè bị móp.", filed_at=filed)
    fields = {"mediator": mediator, "sla_breached_at": filed + timedelta(days=8) if breached else None}
    if hours is not None:
        fields.update(resolved_at=filed + timedelta(hours=hours), outcome=outcome)
    Case.objects.filter(pk=case.pk).update(**fields)
    return case


@pytest.fixture
def world(db):
    rng = random.Random(2026)
    markets = [f.PartnerFactory(code=code, name=code.title()) for code in ("shopee", "tiki")]
    sellers = [f.SellerFactory() for _ in range(4)]
    carriers = [f.carrier("ghn"), f.carrier("vtp")]
    mediator = f.mediator()
    reasons = ["damaged", "not_received", "wrong_item", "counterfeit"]
    outcomes = ["full_refund", "partial_refund", "seller_favour", "withdrawn"]
    for i in range(90):
        order = f.paid_order(marketplace=rng.choice(markets), seller=rng.choice(sellers))
        for j, carrier in enumerate(rng.sample(carriers, rng.choice([0, 1, 1, 2]))):
            Shipment.objects.create(carrier=carrier, tracking_number=f"T{i}-{j}", order=order,
                                    direction="forward", status="delivered")
        if i % 9 == 0:
            Shipment.objects.create(carrier=carriers[0], tracking_number=f"R{i}", order=order,
                                    direction="return")
        filed = datetime.combine(DAY0 + timedelta(days=rng.randrange(DAYS)),
                                 time(rng.randrange(24), rng.randrange(60)), tzinfo=VN_TZ)
        hours = None if i % 7 == 0 else rng.choice([rng.uniform(0, 24), rng.uniform(24, 24 * 7),
                                                    rng.uniform(24 * 7, 24 * 40)])
        make_case(order, filed=filed, reason=rng.choice(reasons), hours=hours,
                  outcome=rng.choice(outcomes), breached=i % 5 == 0,
                  mediator=mediator if i % 3 == 0 else None)
    return markets


def percentile_cont(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    pos = p * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def brute(date_from: date, date_to: date, marketplace: str | None = None) -> dict:
    """Every figure of the statistics page, one case at a time."""
    cases = [c for c in Case.objects.select_related("marketplace").prefetch_related("order__shipments")
             if date_from <= timezone.localtime(c.filed_at, VN_TZ).date() <= date_to
             and marketplace in (None, c.marketplace.code)]
    resolved = [c for c in cases if c.resolved_at]
    weeks: Counter = Counter()
    for c in cases:
        day = timezone.localtime(c.filed_at, VN_TZ).date()
        monday = day - timedelta(days=day.weekday())
        weeks[(monday, "filed")] += 1
        weeks[(monday, "resolved")] += bool(c.resolved_at)
    carriers: Counter = Counter()
    for c in cases:
        for carrier_id in {s.carrier_id for s in c.order.shipments.all() if s.direction == "forward"}:
            carriers[carrier_id] += 1
    durations = [(c.resolved_at - c.filed_at).total_seconds() for c in resolved]
    return {
        "totals": {"filed": len(cases), "resolved": len(resolved),
                   "breached": sum(c.sla_breached_at is not None for c in cases),
                   "mediated": sum(c.mediator_id is not None for c in cases)},
        "reason": Counter(c.reason for c in cases),
        "outcome": Counter(c.outcome for c in cases if c.outcome),
        "marketplace": Counter(c.marketplace_id for c in cases),
        "seller": Counter(c.seller_id for c in cases),
        "carrier": carriers,
        "weeks": weeks,
        "within_legal": sum(working_days_between(c.filed_at, c.resolved_at) <= 7 for c in resolved),
        "durations": sorted(durations),
        "p50": percentile_cont(durations, 0.5), "p90": percentile_cont(durations, 0.9),
    }

"""The rollup stays true: a day is built only once closed, and whatever changes it later — a
case filed (or back-dated) onto it, a case resolved, a shipment recorded — shows at once
(the day is read live) and after the periodic pass (the day is rebuilt)."""

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.core.management import call_command

from cases import services
from cases.calendar import VN_TZ
from cases.models import Case, Shipment
from stats import rollup, tally
from stats.models import MonthlyCount, RollupDay
from stats.rollup import coverage, fresh_days, rollup_rebuild, rollup_refresh
from stats.tasks import rollup_refresh_task
from tests import factories as f
from tests.cases.helpers import file_case
from tests.stats.conftest import DAY0, DAYS, NOW
from web import stats

pytestmark = pytest.mark.django_db

LAST = DAY0 + timedelta(days=DAYS - 1)
DAY = DAY0 + timedelta(days=2)
AUGUST, SEPTEMBER = date(2026, 8, 1), date(2026, 9, 30)


def _summary(**kw):
    """August and September: whole months, so the month rows are in play too."""
    return stats.stats_summary(date_from=AUGUST, date_to=SEPTEMBER, **kw)


def _rebuilt_and_fresh() -> int:
    built = rollup_refresh(now=NOW)
    assert DAY in fresh_days(DAY0, LAST)
    return built


def test_a_case_filed_onto_a_rolled_up_day_counts_at_once_and_after_the_pass(world, buyer_user):
    rollup_rebuild(now=NOW)
    before = _summary()["totals"]["filed"]
    case = file_case(f.paid_order(buyer__user=buyer_user), buyer_user)
    Case.objects.filter(pk=case.pk).update(filed_at=datetime.combine(DAY, time(10), tzinfo=VN_TZ))
    assert DAY not in fresh_days(DAY0, LAST)  # newer than the watermark: read live
    assert _summary()["totals"]["filed"] == before + 1
    assert _rebuilt_and_fresh() == 1  # only that day
    assert coverage(AUGUST, SEPTEMBER).months == [AUGUST, SEPTEMBER.replace(day=1)]
    assert _summary()["totals"]["filed"] == before + 1
    assert rollup_refresh(now=NOW) == 0


def test_resolving_an_old_case_counts_at_once_and_after_the_pass(
        world, buyer_user, django_capture_on_commit_callbacks):
    case = file_case(f.paid_order(buyer__user=buyer_user), buyer_user)
    Case.objects.filter(pk=case.pk).update(filed_at=datetime.combine(DAY, time(10), tzinfo=VN_TZ))
    rollup_rebuild(now=NOW)
    before = _summary()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_withdraw(case_id=case.pk, actor=buyer_user, reason="Đã nhận lại tiền")
    assert DAY not in fresh_days(DAY0, LAST)  # the event bumped the day's version
    after = _summary()
    assert after["totals"]["resolved"] == before["totals"]["resolved"] + 1
    withdrawn = {r["key"]: r["count"] for r in after["by_outcome"]}["withdrawn"]
    assert withdrawn == {r["key"]: r["count"] for r in before["by_outcome"]}["withdrawn"] + 1
    assert _rebuilt_and_fresh() == 1
    assert _summary()["totals"] == after["totals"]
    assert _summary()["by_outcome"] == after["by_outcome"]


def test_a_shipment_recorded_after_the_complaint_counts_for_its_carrier(world):
    rollup_rebuild(now=NOW)
    case = Case.objects.filter(filed_at__date=DAY).exclude(order__shipments__direction="forward").first()
    carrier = f.carrier("ems")
    Shipment.objects.create(carrier=carrier, tracking_number="EMS1", order=case.order,
                            direction="forward", status="delivered")
    day = case.filed_at.astimezone(VN_TZ).date()
    assert day not in fresh_days(DAY0, LAST)
    by_carrier = {r["key"]: r["count"] for r in _summary()["by_carrier"]}
    assert by_carrier[carrier.pk] == 1
    assert rollup_refresh(now=NOW) == 1 and day in fresh_days(DAY0, LAST)
    assert {r["key"]: r["count"] for r in _summary()["by_carrier"]} == by_carrier


def test_a_change_during_the_build_leaves_the_day_stale(world, monkeypatch):
    case = Case.objects.filter(filed_at__date=DAY).first()
    real = tally.workday_counts

    def racing(cases):
        rollup.mark_case_stale(case.pk)  # an event committing while the day is being built
        return real(cases)

    rollup_rebuild(now=NOW)
    monkeypatch.setattr(tally, "workday_counts", racing)
    rollup_rebuild(DAY, DAY, now=NOW)
    row = RollupDay.objects.get(day=DAY)
    assert row.built_version < row.version and DAY not in fresh_days(DAY0, LAST)


def test_only_closed_days_are_built(world):
    morning = datetime.combine(LAST + timedelta(days=1), time(0, 30), tzinfo=VN_TZ)
    rollup_refresh(now=morning)
    assert RollupDay.objects.order_by("day").last().day == LAST - timedelta(days=1)
    rollup_refresh(now=morning + timedelta(hours=1))  # an hour after midnight: closed
    assert RollupDay.objects.order_by("day").last().day == LAST
    assert fresh_days(DAY0, LAST) == {DAY0 + timedelta(days=i) for i in range(DAYS)}


@time_machine.travel(NOW, tick=False)
def test_the_task_and_the_command(world, capsys):
    assert rollup_refresh_task() > DAYS
    assert rollup_refresh_task() == 0
    call_command("stats_rollup")
    assert "0 day(s) built" in capsys.readouterr().out
    call_command("stats_rollup", "--from", DAY0.isoformat(), "--to", LAST.isoformat())
    assert f"{DAYS} day(s) built" in capsys.readouterr().out
    RollupDay.objects.filter(day=DAY).delete()
    call_command("stats_rollup", "--rebuild")
    assert fresh_days(DAY0, LAST) == {DAY0 + timedelta(days=i) for i in range(DAYS)}


def test_a_month_with_a_stale_day_is_read_from_its_days(
        world, buyer_user, django_capture_on_commit_callbacks):
    case = file_case(f.paid_order(buyer__user=buyer_user), buyer_user)
    Case.objects.filter(pk=case.pk).update(filed_at=datetime.combine(DAY, time(10), tzinfo=VN_TZ))
    rollup_rebuild(AUGUST, SEPTEMBER, now=NOW)
    before = _summary()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_withdraw(case_id=case.pk, actor=buyer_user, reason="Đã nhận lại tiền")
    assert coverage(AUGUST, SEPTEMBER).months == [SEPTEMBER.replace(day=1)]
    assert not rollup._build_month(AUGUST)  # kept as it was, ignored while a day is stale
    assert MonthlyCount.objects.filter(month=AUGUST).exists()
    after = _summary()
    assert after["totals"]["resolved"] == before["totals"]["resolved"] + 1
    rollup_refresh(now=NOW)
    assert coverage(AUGUST, SEPTEMBER).months == [AUGUST, SEPTEMBER.replace(day=1)]
    assert _summary()["totals"] == after["totals"]

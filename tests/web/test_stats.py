"""Statistics for the authority: the aggregates, the page (supervisors only) and the CSV."""

from datetime import date, datetime, timedelta

import pytest

from cases.calendar import VN_TZ
from cases.models import Case, Shipment
from tests import factories as f
from tests.cases.helpers import file_case
from web import stats

pytestmark = pytest.mark.django_db

D0 = datetime(2026, 10, 5, 9, 0, tzinfo=VN_TZ)  # a Monday


def _case(buyer_user, seller, *, reason="damaged", hours=None, outcome="full_refund", filed=D0,
          carrier=None):
    order = f.paid_order(buyer__user=buyer_user, seller=seller)
    if carrier:
        Shipment.objects.create(carrier=carrier, tracking_number=f"T{order.pk}", order=order,
                                direction="forward", status="delivered")
    case = file_case(order, buyer_user, reason=reason)
    fields = {"filed_at": filed}
    if hours is not None:
        fields.update(resolved_at=filed + timedelta(hours=hours), outcome=outcome,
                      refund_amount=0, state="resolved")
    Case.objects.filter(pk=case.pk).update(**fields)
    return case


@pytest.fixture
def dataset(buyer_user, seller_user):
    seller = f.SellerFactory(staff_users=[seller_user], name="HTX Mật ong Ba Chẽ")
    other = f.SellerFactory(name="Cơ sở Nem chua Quảng Yên")
    ghn = f.carrier("ghn")
    # resolution hours 10, 20, 30, 40 and 24*14 (two weeks: outside 7 working days)
    for h in (10, 20, 30, 40):
        _case(buyer_user, seller, hours=h, carrier=ghn)
    _case(buyer_user, other, hours=24 * 14, reason="not_received", outcome="seller_favour")
    _case(buyer_user, other, reason="wrong_item")  # still open
    _case(buyer_user, other, filed=D0 - timedelta(days=60))  # outside the period
    return seller, other


def test_summary_counts_percentiles_and_legal_share(dataset):
    seller, other = dataset
    s = stats.stats_summary(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    assert s["totals"]["filed"] == 6 and s["totals"]["resolved"] == 5
    reasons = {r["key"]: r["count"] for r in s["by_reason"]}
    assert reasons == {"damaged": 4, "not_received": 1, "wrong_item": 1}
    res = s["resolution"]
    # durations 10, 20, 30, 40, 336 h: median 30, p90 = 40 + 0.6 * (336 - 40) = 217.6
    assert res["median_hours"] == 30.0 and res["p90_hours"] == 217.6
    assert res["within_legal"] == 4 and res["within_legal_share"] == 0.8
    assert {r["key"]: r["count"] for r in s["by_outcome"]} == {"full_refund": 4, "seller_favour": 1}
    assert [r["count"] for r in s["by_carrier"]] == [4]
    top = s["by_seller"][0]
    assert top["label"] == "HTX Mật ong Ba Chẽ" and top["cases"] == 4 and top["orders"] == 0


def test_empty_period_has_no_percentiles():
    s = stats.stats_summary(date_from=date(2020, 1, 1), date_to=date(2020, 1, 31))
    assert s["totals"]["filed"] == 0 and s["resolution"]["median_hours"] is None


def test_marketplace_filter(dataset):
    s = stats.stats_summary(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31),
                            marketplace="shopee")
    assert s["totals"]["filed"] == 0


def test_page_is_for_supervisors_only(web, dataset, buyer_user, supervisor_user):
    assert web(buyer_user).get("/stats/").status_code == 403
    body = web(supervisor_user).get("/stats/", {"date_from": "2026-10-01", "date_to": "2026-10-31"}
                                    ).content.decode()
    assert "Hàng bị hư hỏng" in body and "30,0 giờ" in body and "80,0 %" in body


def test_bad_dates_show_a_field_error(web, supervisor_user):
    response = web(supervisor_user, "en").get("/stats/", {"date_from": "2026-10-31",
                                                          "date_to": "2026-10-01"})
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()


def test_csv_export(web, dataset, supervisor_user):
    response = web(supervisor_user).get("/stats.csv", {"date_from": "2026-10-01",
                                                       "date_to": "2026-10-31"})
    text = response.content.decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert "by_reason,damaged,Hàng bị hư hỏng,4,0.6667," in text
    assert "resolution,median_hours,median_hours,30.0" in text


def test_cases_by_week_has_every_week(dataset):
    weeks = stats.cases_by_week(date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    assert [w["week"] for w in weeks] == [date(2026, 9, 28), date(2026, 10, 5), date(2026, 10, 12),
                                          date(2026, 10, 19), date(2026, 10, 26)]
    assert [(w["filed"], w["resolved"]) for w in weeks] == [(0, 0), (6, 5), (0, 0), (0, 0), (0, 0)]


def test_week_chart_is_an_accessible_svg(web, dataset, supervisor_user):
    body = web(supervisor_user).get("/stats/", {"date_from": "2026-10-01", "date_to": "2026-10-31"}
                                    ).content.decode()
    assert '<svg class="weeks"' in body and "Số vụ việc theo tuần" in body
    assert "Tuần 05/10/2026: 6 vụ gửi, 5 đã giải quyết" in body

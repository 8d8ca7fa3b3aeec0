"""Working days in Vietnam: weekends and public holidays (Tết included) do not count.

Deadlines are computed in the centre's time zone (Asia/Ho_Chi_Minh) whatever the server's.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@lru_cache(maxsize=32)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year).keys())


def warm(years: Iterable[int]) -> None:
    """Build these years' holiday tables now: the first lookup imports every country of the
    `holidays` package (~0.1–0.4 s of CPU), which a server should pay once before it forks."""
    for year in years:
        _holidays(year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The same local time of day, `days` working days later. Filing on a Saturday at 10:00
    with 3 working days gives Wednesday 10:00 — weekends and holidays never eat into it."""
    local = start.astimezone(VN_TZ)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day, local.timetz())


def working_days_between(start: datetime, end: datetime) -> int:
    """Whole working days from start's date (exclusive) to end's date (inclusive); negative
    if end is earlier. Used for countdowns ("còn 2 ngày làm việc") and statistics."""
    a, b = start.astimezone(VN_TZ).date(), end.astimezone(VN_TZ).date()
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    count = 0
    day = a
    while day < b:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return sign * count

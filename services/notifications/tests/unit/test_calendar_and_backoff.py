"""Business days with French public holidays, and the retry backoff: plain functions."""

from __future__ import annotations

import random
from datetime import date

import pytest

from notifications.domain.business_days import BusinessCalendar
from notifications.domain.delivery import backoff_seconds

CALENDAR = BusinessCalendar()


def test_weekends_are_not_business_days() -> None:
    friday = date(2026, 3, 6)
    assert CALENDAR.add_business_days(friday, 1) == date(2026, 3, 9)
    assert CALENDAR.add_business_days(friday, 2) == date(2026, 3, 10)


@pytest.mark.parametrize(
    ("start", "days", "expected", "holiday"),
    [
        (date(2026, 5, 12), 2, date(2026, 5, 15), date(2026, 5, 14)),  # Ascension (Thursday)
        (date(2026, 4, 3), 1, date(2026, 4, 7), date(2026, 4, 6)),  # Easter Monday
        (date(2026, 7, 13), 1, date(2026, 7, 15), date(2026, 7, 14)),  # 14 juillet
        (date(2026, 12, 31), 1, date(2027, 1, 4), date(2027, 1, 1)),  # New Year, then weekend
    ],
)
def test_french_public_holidays_are_not_business_days(
    start: date, days: int, expected: date, holiday: date
) -> None:
    assert not CALENDAR.is_business_day(holiday)
    assert CALENDAR.holiday_name(holiday)
    assert CALENDAR.add_business_days(start, days) == expected
    assert CALENDAR.business_days_between(start, expected) == days


def test_alsace_moselle_has_its_own_holidays() -> None:
    good_friday = date(2026, 4, 3)
    assert CALENDAR.is_business_day(good_friday)
    assert not BusinessCalendar("57").is_business_day(good_friday)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        step = min(3600, 30 * 2 ** (attempt - 1))
        delays = [backoff_seconds(attempt, base=30, cap=3600, rng=rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # jitter: retries spread out
    assert backoff_seconds(30, base=30, cap=3600) <= 3600

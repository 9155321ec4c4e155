"""Business days in France: Monday to Friday except public holidays (jours fériés), from the
maintained ``holidays`` package (national list; a subdivision such as "57" for Alsace-Moselle
adds its own days)."""

from __future__ import annotations

from datetime import date, timedelta

import holidays


class BusinessCalendar:
    def __init__(self, subdivision: str | None = None) -> None:
        self._holidays = holidays.country_holidays("FR", subdiv=subdivision)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def add_business_days(self, start: date, days: int) -> date:
        """The date ``days`` business days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_business_day(current):
                remaining -= 1
        return current

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in ``(start, end]``: how many business days until ``end``."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_business_day(current):
                count += 1
        return count

"""Business days in France: Monday to Friday except public holidays (jours fériés), from the
maintained ``holidays`` package: the national list (Code du travail L3133-1), plus the days a
territory adds, chosen by the immersion's département:

- **Alsace-Moselle** (57 Moselle; 67 Bas-Rhin and 68 Haut-Rhin, the ``holidays`` subdivision
  ``6AE``, Collectivité européenne d'Alsace): Good Friday (where the commune has a Protestant
  temple or a mixed church) and 26 December, Code du travail L3134-13 (local law);
- **the overseas départements** (971 Guadeloupe, 972 Martinique, 973 Guyane, 974 La Réunion, 976
  Mayotte) and the collectivities 975 Saint-Pierre-et-Miquelon, 977 Saint-Barthélemy, 978
  Saint-Martin: the abolition of slavery day of each territory (loi 83-550 of 30 June 1983, décret
  83-1003), and the days the package lists for Guadeloupe and Martinique.

Any other département (or none known) uses the national list, or the service's default
subdivision when one is set."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

#: Département (as the conventions carry it: 2 digits, 2A/2B, 97x) → ``holidays`` subdivision.
SUBDIVISION_OF_DEPARTEMENT: dict[str, str] = {
    "57": "57",
    "67": "6AE",
    "68": "6AE",
    "971": "971",
    "972": "972",
    "973": "973",
    "974": "974",
    "975": "PM",
    "976": "976",
    "977": "BL",
    "978": "MF",
}


def subdivision_of(departement: str | None, default: str | None = None) -> str | None:
    """The ``holidays`` subdivision whose days count in ``departement``; ``default`` when the
    département adds none or is unknown."""
    if departement is None:
        return default
    return SUBDIVISION_OF_DEPARTEMENT.get(departement.strip().upper(), default)


class BusinessCalendar:
    def __init__(self, subdivision: str | None = None) -> None:
        self.subdivision = subdivision
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

    def for_departement(self, departement: str | None) -> BusinessCalendar:
        """The calendar of ``departement``: its territory's holidays, or this calendar's when
        the département adds none."""
        subdivision = subdivision_of(departement, self.subdivision)
        if subdivision == self.subdivision:
            return self
        return calendar_of(subdivision)


@cache
def calendar_of(subdivision: str | None) -> BusinessCalendar:
    """One shared calendar per subdivision (the ``holidays`` objects fill years lazily)."""
    return BusinessCalendar(subdivision)

"""Working time of a PMSMP beneficiary: a structured weekly schedule (days and periods) from which
daily and weekly hours are computed, and the caps they must respect.

The beneficiary follows the host employees' rules on daily and weekly working time (Code du
travail L5135-6, as issue 13 cites it; DOMAIN.md marks the number UNVERIFIED). The caps are those
rules, by age on the first day, each a setting with its source:

- under 18 (young workers): 8 h a day and 35 h a week (L3162-1);
- 18 or more: 10 h a day (L3121-18) and 48 h a week (L3121-20).

When the birth date is not known yet, the adult caps apply (checked again once it is).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

from dispositifs.domain import code_du_travail
from shared.domain.errors import Violation

ART_FOLLOWS_HOST_RULES = code_du_travail("L5135-6")
ART_YOUNG_WORKERS = code_du_travail("L3162-1")
ART_DAILY_MAX = code_du_travail("L3121-18")
ART_WEEKLY_MAX = code_du_travail("L3121-20")


class Weekday(enum.StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def label(self) -> str:
        return _DAY_LABELS[self]


_DAY_LABELS = dict(
    zip(
        Weekday,
        ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
        strict=False,
    )
)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def minutes(hhmm: str) -> int:
    match = _TIME.match(hhmm)
    if match is None:
        raise ValueError(f"heure invalide : {hhmm!r} (HH:MM attendu)")
    return int(match[1]) * 60 + int(match[2])


@dataclass(frozen=True, slots=True)
class Period:
    """One period of presence in a day, ``"08:00"`` to ``"12:00"``."""

    start: str
    end: str

    @property
    def hours(self) -> float:
        return (minutes(self.end) - minutes(self.start)) / 60


@dataclass(frozen=True, slots=True)
class DaySchedule:
    day: Weekday
    periods: tuple[Period, ...]

    @property
    def hours(self) -> float:
        return sum(p.hours for p in self.periods)


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """The week of presence at the host (the same every week of the convention)."""

    days: tuple[DaySchedule, ...]

    @property
    def weekly_hours(self) -> float:
        return sum(d.hours for d in self.days)

    def daily_hours(self) -> dict[Weekday, float]:
        return {d.day: d.hours for d in self.days}

    @classmethod
    def from_json(cls, value: object) -> WeeklySchedule | None:
        """From the stored/API shape ``[{"day": "monday", "periods": [{"start", "end"}]}]``."""
        if not value:
            return None
        assert isinstance(value, list)
        return cls(
            tuple(
                DaySchedule(
                    Weekday(d["day"]),
                    tuple(Period(p["start"], p["end"]) for p in d.get("periods", [])),
                )
                for d in value
            )
        )

    def to_json(self) -> list[dict[str, object]]:
        return [
            {
                "day": d.day.value,
                "periods": [{"start": p.start, "end": p.end} for p in d.periods],
                "hours": round(d.hours, 2),
            }
            for d in self.days
        ]

    def describe(self) -> str:
        """French summary: "lundi 08:00-12:00, 13:00-16:00 ; mardi …"."""
        return " ; ".join(
            f"{d.day.label} " + ", ".join(f"{p.start}-{p.end}" for p in d.periods)
            for d in self.days
        )


@dataclass(frozen=True)
class WorkingTimeLimits:
    adult_age: int = 18
    young_max_daily_hours: float = 8  # L3162-1
    young_max_weekly_hours: float = 35  # L3162-1
    adult_max_daily_hours: float = 10  # L3121-18
    adult_max_weekly_hours: float = 48  # L3121-20


def _age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def check_schedule_shape(schedule: WeeklySchedule) -> list[Violation]:
    """Each day once, periods in order, not overlapping, each ending after it starts."""
    found = []
    seen: set[Weekday] = set()
    for d in schedule.days:
        if d.day in seen:
            found.append(
                Violation("pmsmp.schedule", "schedule_plan", f"le {d.day.label} figure deux fois")
            )
        seen.add(d.day)
        previous_end = -1
        for p in d.periods:
            start, end = minutes(p.start), minutes(p.end)
            if end <= start or start < previous_end:
                found.append(
                    Violation(
                        "pmsmp.schedule",
                        "schedule_plan",
                        f"le {d.day.label}, la période {p.start}-{p.end} est mal placée (fin "
                        "après début, périodes dans l'ordre et sans chevauchement)",
                    )
                )
            previous_end = end
    return found


def check_working_time(
    schedule: WeeklySchedule | None,
    weekly_hours: float | None,
    birth_date: date | None,
    start: date,
    limits: WorkingTimeLimits,
) -> list[Violation]:
    """Daily and weekly caps by age on the first day (the schedule's figures when there is one,
    else the declared ``weekly_hours``)."""
    young = birth_date is not None and _age_on(birth_date, start) < limits.adult_age
    if young:
        daily_cap, weekly_cap = limits.young_max_daily_hours, limits.young_max_weekly_hours
        daily_art = weekly_art = ART_YOUNG_WORKERS
        who = f"moins de {limits.adult_age} ans"
        suffix = ".young"
    else:
        daily_cap, weekly_cap = limits.adult_max_daily_hours, limits.adult_max_weekly_hours
        daily_art, weekly_art = ART_DAILY_MAX, ART_WEEKLY_MAX
        who = f"{limits.adult_age} ans ou plus"
        suffix = ""
    found: list[Violation] = []
    if schedule is not None:
        found += check_schedule_shape(schedule)
        if found:
            return found
        for d in schedule.days:
            if d.hours > daily_cap:
                found.append(
                    Violation(
                        f"pmsmp.daily_hours{suffix}",
                        "schedule_plan",
                        f"le {d.day.label} : {d.hours:g} h de présence, au plus {daily_cap:g} h "
                        f"par jour ({who} ; le bénéficiaire suit les règles des salariés de la "
                        "structure d'accueil)",
                        daily_art,
                    )
                )
        weekly = schedule.weekly_hours
        field = "schedule_plan"
    else:
        if weekly_hours is None:
            return []
        weekly, field = weekly_hours, "weekly_hours"
    if weekly > weekly_cap:
        found.append(
            Violation(
                f"pmsmp.weekly_hours{suffix}",
                field,
                f"{weekly:g} h par semaine, au plus {weekly_cap:g} h ({who} ; le bénéficiaire "
                "suit les règles des salariés de la structure d'accueil)",
                weekly_art,
            )
        )
    return found

"""Priority publics derived where the data allows (issue 12, item 9): DELD from the France Travail
registration date, the jeune age limit and its RQTH extension as settings."""

from __future__ import annotations

from datetime import date

import pytest

from referral.domain import PriorityPublic, PublicsRules, follow_up_due, priority_publics

DAY = date(2026, 12, 1)


def _publics(**kwargs: object) -> frozenset[PriorityPublic]:
    values: dict[str, object] = {
        "birth_date": None,
        "on": DAY,
        "rqth": False,
        "brsa": False,
        "deld": False,
        "qpv": False,
    }
    values.update(kwargs)
    return priority_publics(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("registered_on", "box", "deld"),
    [
        (date(2025, 12, 1), False, True),  # 12 months to the day
        (date(2025, 12, 2), True, False),  # a day short: the date wins over the box
        (None, True, True),  # no date: the counsellor's box counts
        (None, False, False),
    ],
)
def test_deld_from_the_registration_date_wins_over_the_box(
    registered_on: date | None, box: bool, deld: bool
) -> None:
    publics = _publics(registered_on=registered_on, deld=box)
    assert (PriorityPublic.DELD in publics) is deld


@pytest.mark.parametrize(
    ("birth_date", "rqth", "jeune"),
    [
        (date(2000, 12, 2), False, True),  # 25
        (date(2000, 12, 1), False, False),  # 26 today
        (date(1997, 12, 2), True, True),  # 28 with a RQTH: the CEJ's extension
        (date(1996, 12, 2), True, True),  # 29 with a RQTH
        (date(1996, 12, 1), True, False),  # 30
    ],
)
def test_jeune_under_26_or_under_30_with_a_rqth(birth_date: date, rqth: bool, jeune: bool) -> None:
    assert (PriorityPublic.JEUNE in _publics(birth_date=birth_date, rqth=rqth)) is jeune


def test_the_thresholds_are_settings() -> None:
    rules = PublicsRules(jeune_age_limit=25, jeune_rqth_age_limit=25, deld_months=24)
    publics = _publics(birth_date=date(2001, 6, 1), registered_on=date(2025, 1, 1), rules=rules)
    assert PriorityPublic.JEUNE not in publics
    assert PriorityPublic.DELD not in publics


@pytest.mark.parametrize(
    ("today", "asked", "due"),
    [
        (date(2026, 2, 27), None, None),
        (date(2026, 2, 28), None, 1),  # 31 January + 1 month: the last day of February
        (date(2026, 5, 1), 1, 3),
        (date(2026, 5, 1), 3, None),
        (date(2026, 9, 1), None, 6),  # the latest milestone due, not every one missed
        (date(2027, 9, 1), 6, None),
    ],
)
def test_the_follow_up_due(today: date, asked: int | None, due: int | None) -> None:
    assert follow_up_due(date(2026, 1, 31), today, asked) == due

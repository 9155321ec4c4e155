"""The one "durable" rule of every service (issue 12, item 7): a CDI, or a contract lasting
N months or more by the calendar (last day + 1 ≥ start + N months)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.contracts.vocabulary import ContractType
from shared.domain.placements import add_months, is_durable_contract, lasts_at_least


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 3, 10), -2, date(2026, 1, 10)),
    ],
)
def test_add_months_stays_in_the_target_month(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "last_day", "durable"),
    [
        (date(2026, 1, 1), date(2026, 6, 30), True),  # issue 12: was off by one
        (date(2026, 1, 1), date(2026, 6, 29), False),
        (date(2026, 1, 15), date(2026, 7, 14), True),
        (date(2026, 1, 15), date(2026, 7, 13), False),
    ],
)
def test_six_months_by_the_calendar(start: date, last_day: date, durable: bool) -> None:
    assert lasts_at_least(start, last_day, 6) is durable
    assert (
        is_durable_contract(ContractType.CDD, start=start, last_day=last_day, min_months=6)
        is durable
    )


def test_cdi_always_unknown_length_never_and_whole_months_as_a_last_resort() -> None:
    assert is_durable_contract(ContractType.CDI_INTERIMAIRE, min_months=6)
    assert not is_durable_contract(ContractType.MISSION, min_months=6)
    assert not is_durable_contract(None, months=12, min_months=6)
    assert is_durable_contract(ContractType.CDD, months=6, min_months=6)
    assert not is_durable_contract(ContractType.CDD, months=5, min_months=6)

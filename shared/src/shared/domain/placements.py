"""What counts as a durable contract, the one rule of every service (issue 12, item 7).

"Durable" in public-employment statistics: a CDI (the CDI intérimaire is a CDI, L1251-58-1), or a
CDD or mission of ``min_months`` months or more (6 by default, a setting: DOMAIN.md). A contract's
length is compared by the calendar, both ends included: from 1 January to 30 June is six months,
because the day after its last day (1 July) is six months after its first.

Plain Python: no I/O.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from shared.contracts.vocabulary import ContractType

#: Contracts that are durable whatever their length.
DURABLE_CONTRACT_TYPES = frozenset({ContractType.CDI, ContractType.CDI_INTERIMAIRE})


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, kept within the target month (31 January
    + 1 month is 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lasts_at_least(start: date, last_day: date, months: int) -> bool:
    """A contract from ``start`` to ``last_day`` (both included) lasts ``months`` months or more:
    ``last_day + 1 day >= start + months``."""
    return last_day + timedelta(days=1) >= add_months(start, months)


def is_durable_contract(
    contract_type: ContractType | None,
    *,
    start: date | None = None,
    last_day: date | None = None,
    months: int | None = None,
    min_months: int,
) -> bool:
    """CDI and CDI intérimaire always; another contract when it lasts ``min_months`` or more,
    known by its dates (``start``, ``last_day``: compared by the calendar) or, failing them, by
    its length in whole months (``months``). Unknown length: not durable (not counted)."""
    if contract_type is None:
        return False
    if contract_type in DURABLE_CONTRACT_TYPES:
        return True
    if start is not None and last_day is not None:
        return lasts_at_least(start, last_day, min_months)
    return months is not None and months >= min_months

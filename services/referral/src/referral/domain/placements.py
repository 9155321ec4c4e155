"""Offers and placements: where a "métier en tension" flag comes from, and what counts as a
durable placement. Plain Python."""

from __future__ import annotations

import enum
from datetime import date

from shared.contracts.vocabulary import ContractType
from shared.domain.placements import DURABLE_CONTRACT_TYPES as SHARED_DURABLE_TYPES
from shared.domain.placements import add_months, is_durable_contract, lasts_at_least


class HardToFillSource(enum.StrEnum):
    """Where a "métier en tension" flag comes from: three different things (DOMAIN.md), so the
    flag is kept with its source rather than derived from a hard-coded list."""

    BMO = "bmo"
    REGIONAL_LIST = "regional_list"
    OFFER_FLAG = "offer_flag"

    @property
    def label(self) -> str:
        return {
            HardToFillSource.BMO: "Enquête BMO : recrutements jugés difficiles",
            HardToFillSource.REGIONAL_LIST: "Liste régionale des métiers en tension "
            "(arrêté du 21 mai 2025)",
            HardToFillSource.OFFER_FLAG: "Offre signalée en manque de candidats "
            "(offresManqueCandidats)",
        }[self]


# -- placements ---------------------------------------------------------------------------------

#: Contracts that are durable whatever their length (DOMAIN.md: "a CDI or a CDD/mission of
#: 6 months or more"; the CDI intérimaire is a CDI, L1251-58-1).
DURABLE_CONTRACT_TYPES = SHARED_DURABLE_TYPES

#: The outcome follow-up: "toujours en poste ?" this many months after the placement started.
FOLLOW_UP_MONTHS: tuple[int, ...] = (1, 3, 6)


def months_between(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end`` (both days included): 1 January to
    30 June is 6."""
    months = (end.year - start.year) * 12 + (end.month - start.month) + 1
    while months > 0 and not lasts_at_least(start, end, months):
        months -= 1
    return max(months, 0)


def is_durable_placement(
    contract_type: ContractType | None,
    start: date | None,
    expected_end: date | None,
    *,
    min_months: int,
) -> bool:
    """CDI and CDI intérimaire always; other contracts when they last ``min_months`` or more by
    the calendar (end + 1 day ≥ start + N months; a setting: 6 in public-employment statistics,
    UNVERIFIED as a rule of the convention). The platform's one rule:
    :func:`shared.domain.placements.is_durable_contract`."""
    return is_durable_contract(
        contract_type, start=start, last_day=expected_end, min_months=min_months
    )


def follow_up_due(start: date, today: date, asked: int | None) -> int | None:
    """The follow-up milestone (months) to ask now, if any: the latest of
    :data:`FOLLOW_UP_MONTHS` reached by ``today`` and later than the last one ``asked``."""
    due = [m for m in FOLLOW_UP_MONTHS if add_months(start, m) <= today and m > (asked or 0)]
    return due[-1] if due else None

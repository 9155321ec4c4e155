"""Offers and placements: where a "métier en tension" flag comes from, and what counts as a
durable placement. Plain Python."""

from __future__ import annotations

import enum
from datetime import date

from shared.contracts.vocabulary import ContractType


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
DURABLE_CONTRACT_TYPES = frozenset({ContractType.CDI, ContractType.CDI_INTERIMAIRE})


def months_between(start: date, end: date) -> float:
    """Calendar months from ``start`` to ``end`` (whole months plus the fraction of the last)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    days = end.day - start.day
    return months + days / 31


def is_durable_placement(
    contract_type: ContractType | None,
    start: date | None,
    expected_end: date | None,
    *,
    min_months: int,
) -> bool:
    """CDI and CDI intérimaire always; other contracts when they last ``min_months`` or more (a
    setting: 6 in public-employment statistics, UNVERIFIED as a rule of the convention)."""
    if contract_type is None:
        return False
    if contract_type in DURABLE_CONTRACT_TYPES:
        return True
    if start is None or expected_end is None:
        return False
    return months_between(start, expected_end) >= min_months

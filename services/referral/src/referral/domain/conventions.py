"""Regional conventions and their targets (issue 16, item 1): the national convention France
Travail × Prism'emploi is declined in regional conventions (17 since 2021), each with its period,
its signatory networks and targets per axis. Progress is computed from the indicator facts
(:mod:`referral.domain.indicators`), never from personal rows. Plain Python.

Axes and what counts towards them (over the referrals of the convention's territory, period and
networks):

- ``referrals``: referrals sent; ``placements`` and ``durable_placements``: as the indicators
  define them;
- ``immersions``: referrals whose immersion (PMSMP) began; ``mrs_recruits``: candidates positively
  evaluated in an MRS and recruited; ``training_starts``: POEI and POEC enrolments;
- ``priority_public_share``: the share (in %) of referrals of job seekers in a priority public
  (RQTH, BRSA, young, senior, long-term unemployed, QPV).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from referral.domain.indicators import (
    ReferralFacts,
    Rules,
    measure,
    measure_schemes,
    priority_public_referrals,
)
from shared.domain.errors import Violation


class ConventionScope(enum.StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"

    @property
    def label(self) -> str:
        return {
            ConventionScope.NATIONAL: "Convention nationale",
            ConventionScope.REGIONAL: "Convention régionale",
        }[self]


class Axis(enum.StrEnum):
    REFERRALS = "referrals"
    PLACEMENTS = "placements"
    DURABLE_PLACEMENTS = "durable_placements"
    IMMERSIONS = "immersions"
    MRS_RECRUITS = "mrs_recruits"
    TRAINING_STARTS = "training_starts"
    PRIORITY_PUBLIC_SHARE = "priority_public_share"

    @property
    def label(self) -> str:
        return _AXIS_LABELS[self]

    @property
    def percent(self) -> bool:
        """The target is a share in % (otherwise a count)."""
        return self is Axis.PRIORITY_PUBLIC_SHARE


_AXIS_LABELS = {
    Axis.REFERRALS: "Orientations envoyées",
    Axis.PLACEMENTS: "Mises en emploi",
    Axis.DURABLE_PLACEMENTS: "Emplois durables",
    Axis.IMMERSIONS: "Immersions (PMSMP) engagées",
    Axis.MRS_RECRUITS: "Recrutements après MRS",
    Axis.TRAINING_STARTS: "Entrées en POEI / POEC",
    Axis.PRIORITY_PUBLIC_SHARE: "Part des publics prioritaires (%)",
}

NAME_MAX = 200
_REGION = re.compile(r"^\d{2}$")


@dataclass(frozen=True, slots=True)
class ConventionTerms:
    """What a convention says: its territory, period, signatory networks and targets."""

    name: str
    scope: ConventionScope
    region: str | None
    period_start: date
    period_end: date
    #: The signatory networks (empty: every network).
    networks: tuple[str, ...]
    targets: Mapping[Axis, float]


def check_terms(
    terms: ConventionTerms, *, regions: Mapping[str, str], networks: frozenset[str]
) -> list[Violation]:
    """Everything wrong with ``terms``, each naming its field (French messages)."""
    found: list[Violation] = []
    if not terms.name.strip() or len(terms.name) > NAME_MAX:
        found.append(
            Violation("name", "name", f"Un nom de 1 à {NAME_MAX} caractères est obligatoire.")
        )
    if terms.scope is ConventionScope.REGIONAL:
        if terms.region is None or not _REGION.match(terms.region) or terms.region not in regions:
            found.append(
                Violation("region", "region", "Une convention régionale nomme une région connue.")
            )
    elif terms.region is not None:
        found.append(
            Violation("region", "region", "La convention nationale ne nomme pas de région.")
        )
    if terms.period_end < terms.period_start:
        found.append(Violation("period", "period_end", "La fin de période précède son début."))
    for index, network in enumerate(terms.networks):
        if network not in networks:
            found.append(Violation("networks", f"networks.{index}", f"Réseau inconnu : {network}."))
    if len(set(terms.networks)) != len(terms.networks):
        found.append(Violation("networks", "networks", "Un réseau est nommé deux fois."))
    for axis, target in terms.targets.items():
        if target < 0 or (axis.percent and target > 100):
            bound = "entre 0 et 100" if axis.percent else "positive ou nulle"
            found.append(
                Violation("targets", f"targets.{axis.value}", f"La cible doit être {bound}.")
            )
    return found


def achieved(facts: Sequence[ReferralFacts], rules: Rules) -> dict[Axis, float]:
    """The value reached on every axis by ``facts`` (the convention's referrals)."""
    totals = measure(facts, rules)
    schemes = measure_schemes(facts)
    sent = totals["referrals_sent"]
    share = round(100 * priority_public_referrals(facts) / sent, 1) if sent else 0.0
    return {
        Axis.REFERRALS: sent,
        Axis.PLACEMENTS: totals["placements"],
        Axis.DURABLE_PLACEMENTS: totals["durable_placements"],
        Axis.IMMERSIONS: schemes["immersion"]["started"],
        Axis.MRS_RECRUITS: schemes["mrs"]["recruited"],
        Axis.TRAINING_STARTS: schemes["poei"]["started"] + schemes["poec"]["started"],
        Axis.PRIORITY_PUBLIC_SHARE: share,
    }


def progress(targets: Mapping[Axis, float], reached: Mapping[Axis, float]) -> list[dict[str, Any]]:
    """One line per targeted axis (in the axes' order): target, value reached, and the ratio
    (capped at nothing: 1.2 means 120 %)."""
    lines = []
    for axis in Axis:
        if axis not in targets:
            continue
        target = targets[axis]
        value = reached.get(axis, 0)
        lines.append(
            {
                "axis": axis.value,
                "label": axis.label,
                "unit": "percent" if axis.percent else "count",
                "target": target,
                "achieved": value,
                "ratio": round(value / target, 4) if target else None,
            }
        )
    return lines


def elapsed_share(period_start: date, period_end: date, today: date) -> float:
    """How much of the period has gone by (0 to 1): the pace a target is read against."""
    if today <= period_start:
        return 0.0
    if today >= period_end:
        return 1.0
    return round((today - period_start).days / ((period_end - period_start).days or 1), 4)

"""Who the job seeker is for the convention: priority publics (computed on a day) and what they
consented to share with an agency. Plain Python."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from shared.domain.placements import add_months


class PriorityPublic(enum.StrEnum):
    """The priority publics the convention-cadre of 4 March 2025 names (axis 3), plus DELD and
    QPV residents that France Travail statistics follow (DOMAIN.md)."""

    RQTH = "rqth"
    BRSA = "brsa"
    JEUNE = "jeune"
    SENIOR = "senior"
    DELD = "deld"
    QPV = "qpv"

    @property
    def label(self) -> str:
        return _PUBLIC_LABELS[self]


_PUBLIC_LABELS = {
    PriorityPublic.RQTH: "Travailleur handicapé (RQTH, BOETH — L5212-13)",
    PriorityPublic.BRSA: "Bénéficiaire du RSA",
    PriorityPublic.JEUNE: "Jeune de moins de 26 ans (moins de 30 ans avec une RQTH)",
    PriorityPublic.SENIOR: "Senior",
    PriorityPublic.DELD: "Demandeur d'emploi de longue durée (12 mois ou plus)",
    PriorityPublic.QPV: "Résident d'un quartier prioritaire de la ville (QPV)",
}

#: "Jeunes": under 26 (France Travail, missions locales; DOMAIN.md).
JEUNE_AGE_LIMIT = 26


@dataclass(frozen=True, slots=True)
class PublicsRules:
    """The thresholds of the derived publics, each a setting with its source (DOMAIN.md,
    "Priority publics and sensitive data")."""

    #: "Seniors": 50 or over in France Travail statistics, 55+ for the POEI 600 h rule.
    senior_age: int = 50
    #: "Jeunes": under 26 (France Travail, missions locales).
    jeune_age_limit: int = JEUNE_AGE_LIMIT
    #: ... and up to 29 with a RQTH (the CEJ's extension): under 30.
    jeune_rqth_age_limit: int = 30
    #: DELD: registered with France Travail for 12 months or more.
    deld_months: int = 12


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def is_long_term_unemployed(registered_on: date, day: date, months: int = 12) -> bool:
    """DELD on ``day``: registered with France Travail on ``registered_on``, ``months`` or more
    before (by the calendar)."""
    return add_months(registered_on, months) <= day


def priority_publics(
    *,
    birth_date: date | None,
    on: date,
    rqth: bool,
    brsa: bool,
    deld: bool,
    qpv: bool,
    senior_age: int | None = None,
    registered_on: date | None = None,
    rules: PublicsRules | None = None,
) -> frozenset[PriorityPublic]:
    """The priority publics a job seeker belongs to on ``on``.

    Derived where the data allows, and then the data wins over the counsellor's box: jeune and
    senior from the birth date, DELD from the France Travail registration date
    (``registered_on``); without a registration date, the counsellor's ``deld`` box counts.
    RQTH, BRSA and QPV are what the counsellor records. ``senior_age``, when given, overrides
    ``rules.senior_age`` (kept for the callers that pass it alone)."""
    rules = rules or PublicsRules()
    senior = senior_age if senior_age is not None else rules.senior_age
    publics = set()
    if rqth:
        publics.add(PriorityPublic.RQTH)
    if brsa:
        publics.add(PriorityPublic.BRSA)
    if registered_on is not None:
        if is_long_term_unemployed(registered_on, on, rules.deld_months):
            publics.add(PriorityPublic.DELD)
    elif deld:
        publics.add(PriorityPublic.DELD)
    if qpv:
        publics.add(PriorityPublic.QPV)
    if birth_date is not None:
        age = age_on(birth_date, on)
        if age < rules.jeune_age_limit or (rqth and age < rules.jeune_rqth_age_limit):
            publics.add(PriorityPublic.JEUNE)
        if age >= senior:
            publics.add(PriorityPublic.SENIOR)
    return frozenset(publics)


# -- consent ------------------------------------------------------------------------------------


class ConsentScope(enum.StrEnum):
    """What a job seeker agreed to: identity or RQTH shared with one agency for one referral,
    or being contacted by the platform."""

    IDENTITY = "identity"
    RQTH = "rqth"
    CONTACT = "contact"

    @property
    def label(self) -> str:
        return {
            ConsentScope.IDENTITY: "Identité et coordonnées",
            # CNIL: RQTH status is health data (RGPD art. 9): explicit consent for each sharing.
            ConsentScope.RQTH: "Reconnaissance de la qualité de travailleur handicapé (RQTH)",
            ConsentScope.CONTACT: "Être contacté par la plateforme",
        }[self]

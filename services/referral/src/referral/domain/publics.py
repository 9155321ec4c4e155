"""Who the job seeker is for the convention: priority publics (computed on a day) and what they
consented to share with an agency. Plain Python."""

from __future__ import annotations

import enum
from datetime import date


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
    PriorityPublic.JEUNE: "Jeune de moins de 26 ans",
    PriorityPublic.SENIOR: "Senior",
    PriorityPublic.DELD: "Demandeur d'emploi de longue durée (12 mois ou plus)",
    PriorityPublic.QPV: "Résident d'un quartier prioritaire de la ville (QPV)",
}

#: "Jeunes": under 26 (France Travail, missions locales; DOMAIN.md).
JEUNE_AGE_LIMIT = 26


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def priority_publics(
    *,
    birth_date: date | None,
    on: date,
    rqth: bool,
    brsa: bool,
    deld: bool,
    qpv: bool,
    senior_age: int,
) -> frozenset[PriorityPublic]:
    """The priority publics a job seeker belongs to on ``on``. Jeune and senior are computed from
    the birth date; ``senior_age`` is a setting (50 in France Travail statistics, 55 for the POEI
    600 h rule: DOMAIN.md)."""
    publics = set()
    if rqth:
        publics.add(PriorityPublic.RQTH)
    if brsa:
        publics.add(PriorityPublic.BRSA)
    if deld:
        publics.add(PriorityPublic.DELD)
    if qpv:
        publics.add(PriorityPublic.QPV)
    if birth_date is not None:
        age = age_on(birth_date, on)
        if age < JEUNE_AGE_LIMIT:
            publics.add(PriorityPublic.JEUNE)
        if age >= senior_age:
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

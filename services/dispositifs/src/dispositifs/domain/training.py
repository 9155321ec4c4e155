"""POEI and POEC (préparation opérationnelle à l'emploi, individuelle ou collective).

- POEI (L6326-1; D6326-1 as amended in force since 21 June 2024): for a registered job seeker,
  before a hire on an offer filed with France Travail; hour cap by mode (300 h full tutoring or
  seasonal, 450 h with a training body, 600 h for targeted publics: BRSA, seniors); the contract
  expected after it must be of an allowed kind and length.
- POEC (L6326-3): needs identified by the branch or its OPCO (AKTO for temporary work), no prior
  offer, at most 400 h of which at most a third in a company.

Caps and thresholds are :class:`TrainingLimits` (settings): texts change.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from dispositifs.domain import code_du_travail
from dispositifs.domain.immersion import Actor, age_on
from shared.contracts.dispositifs import EnrolmentStatus
from shared.contracts.vocabulary import ContractType
from shared.domain.errors import Violation
from shared.domain.transitions import Transition, TransitionTable

ART_POEI = code_du_travail("L6326-1")
#: The contract expected after a POEI (décret 2024-561 of 21 June 2024).
ART_POEI_TERMS = code_du_travail("D6326-1") + " (décret 2024-561)"
ART_POEC = code_du_travail("L6326-3")
#: The POEI hour caps are France Travail's financing rules, not D6326-1's.
RULE_FT_POEI_HOURS = "France Travail, règles de prise en charge de la POEI (plafonds horaires)"
#: The POEC's 400 h and one third in a company come from the France Travail / OPCO frameworks.
RULE_POEC_FRAMEWORK = "France Travail et OPCO, cadre de la POEC (durée, part en entreprise)"

_COUNSELLOR = frozenset({Actor.COUNSELLOR.value})


class PoeiMode(enum.StrEnum):
    FULL_TUTORING = "full_tutoring"  # 100 % tutorat en entreprise
    SEASONAL = "seasonal"  # pour un emploi saisonnier
    TRAINING_BODY = "training_body"  # avec un organisme de formation


class TargetedPublic(enum.StrEnum):
    """The publics a POEI's higher cap may serve: France Travail's rule names BRSA and seniors
    (the default setting); the other priority publics of the convention-cadre (axis 3) that the
    referral carries may be added by the setting. RQTH never reaches this service (health data,
    GDPR art. 9): it is not one of them."""

    BRSA = "brsa"
    SENIOR = "senior"
    JEUNE = "jeune"
    DELD = "deld"
    QPV = "qpv"


#: An enrolment's lifecycle: enrolled by the counsellor, then completed or abandoned once.
ENROLMENT_LIFECYCLE: TransitionTable[EnrolmentStatus] = TransitionTable(
    "inscription",
    [
        Transition("enrol", frozenset({None}), EnrolmentStatus.ENROLLED, _COUNSELLOR),
        Transition(
            "complete",
            frozenset({EnrolmentStatus.ENROLLED}),
            EnrolmentStatus.COMPLETED,
            _COUNSELLOR,
        ),
        Transition(
            "abandon", frozenset({EnrolmentStatus.ENROLLED}), EnrolmentStatus.ABANDONED, _COUNSELLOR
        ),
    ],
)


def check_outcome(
    current: EnrolmentStatus, *, completed: bool, hired: bool, contract_type: ContractType | None
) -> list[Violation]:
    """The end of the training is recorded once, from *enrolled*; then, a hire names its
    contract."""
    if ENROLMENT_LIFECYCLE.find(outcome_action(completed), current) is None:
        return [Violation("training.status", "completed", "issue déjà enregistrée")]
    if hired and contract_type is None:
        return [
            Violation("training.outcome", "contract_type", "le contrat de l'embauche est requis")
        ]
    return []


def outcome_action(completed: bool) -> str:
    return "complete" if completed else "abandon"


@dataclass(frozen=True)
class TrainingLimits:
    poei_max_hours_full_tutoring: int = 300
    poei_max_hours_seasonal: int = 300
    poei_max_hours_training_body: int = 450
    poei_max_hours_targeted_public: int = 600
    #: "Seniors" for the POEI 600 h rule (France Travail statistics say 50: a setting).
    senior_age: int = 55
    poei_min_months_fixed_term: int = 6  # CDD, professionnalisation, apprentissage
    poei_min_months_seasonal_or_mission: int = 4  # CDD saisonnier, one contrat de mission
    poei_min_months_missions_total: int = 6  # several missions…
    poei_missions_window_months: int = 9  # …within this many months after the training
    poec_max_hours: int = 400
    #: At most 1/denominator of a POEC's hours in a company.
    poec_company_share_denominator: int = 3
    poec_temporary_work_opco: str = "AKTO"
    #: L6326-3: CDD and professionalisation contracts after a POEC last this many months or more.
    poec_min_months_fixed_term: int = 12
    #: The publics with the POEI's higher cap (France Travail's rule; "brsa", "senior", and any
    #: of the referral's priority publics listed here).
    poei_targeted_publics: frozenset[str] = frozenset({"brsa", "senior"})
    #: A completed temporary-work POEC with no mission recorded this many days after its end is
    #: flagged (L6326-3 sets the duty to give missions, not a delay: the platform's setting).
    poec_missions_follow_up_days: int = 90


def targeted_public(
    *,
    brsa: bool,
    birth_date: date | None,
    start: date,
    limits: TrainingLimits,
    referral_publics: Iterable[str] = (),
) -> TargetedPublic | None:
    """The public of the POEI's higher cap, among those the settings list (France Travail's rule:
    BRSA, seniors 55+): from what the counsellor declares (BRSA, birth date) or from the priority
    publics of the referral as the referral service computed them (``referral.sent``)."""
    listed = limits.poei_targeted_publics
    known = {p for p in referral_publics if p in {t.value for t in TargetedPublic}}
    if TargetedPublic.BRSA.value in listed and (brsa or TargetedPublic.BRSA.value in known):
        return TargetedPublic.BRSA
    if TargetedPublic.SENIOR.value in listed and (
        (birth_date is not None and age_on(birth_date, start) >= limits.senior_age)
        or TargetedPublic.SENIOR.value in known
    ):
        return TargetedPublic.SENIOR
    for public in TargetedPublic:
        if public.value in listed and public.value in known:
            return public
    return None


def poei_hour_cap(mode: PoeiMode, public: TargetedPublic | None, limits: TrainingLimits) -> int:
    by_mode = {
        PoeiMode.FULL_TUTORING: limits.poei_max_hours_full_tutoring,
        PoeiMode.SEASONAL: limits.poei_max_hours_seasonal,
        PoeiMode.TRAINING_BODY: limits.poei_max_hours_training_body,
    }[mode]
    if public is not None:
        return max(by_mode, limits.poei_max_hours_targeted_public)
    return by_mode


def check_poei_hours(
    hours: int, mode: PoeiMode, public: TargetedPublic | None, limits: TrainingLimits
) -> list[Violation]:
    cap = poei_hour_cap(mode, public, limits)
    if hours <= 0:
        return [Violation("poei.hours", "hours", "le nombre d'heures doit être positif")]
    if hours > cap:
        why = f"public ciblé ({public.value})" if public else f"mode {mode.value}"
        return [
            Violation(
                "poei.hours",
                "hours",
                f"POEI de {hours} h : au plus {cap} h ({why})",
                RULE_FT_POEI_HOURS,
            )
        ]
    return []


def check_poei_offer(offer_id: str | None, employer_siret: str | None) -> list[Violation]:
    """L6326-1: a POEI prepares a hire on an offer filed with France Travail, by that employer."""
    found = []
    if not offer_id:
        found.append(
            Violation(
                "poei.offer",
                "offer_id",
                "une POEI suppose une offre d'emploi déposée auprès de France Travail",
                ART_POEI,
            )
        )
    if not employer_siret:
        found.append(
            Violation("poei.employer", "employer.siret", "l'employeur est obligatoire", ART_POEI)
        )
    else:
        from stdnum.fr import siret

        if not siret.is_valid(employer_siret):
            found.append(
                Violation("poei.employer", "employer.siret", "numéro SIRET invalide", ART_POEI)
            )
    return found


@dataclass(frozen=True, slots=True)
class ExpectedContract:
    """The contract the employer commits to after the POEI."""

    type: ContractType
    #: Length of the contract (or of the single mission), in months; None for a CDI.
    duration_months: int | None = None
    #: For contrats de mission: their total length within the window after the training.
    missions_total_months: int | None = None
    #: The job is seasonal (a 4-month contract qualifies only then).
    seasonal: bool = False


def check_poei_contract(contract: ExpectedContract, limits: TrainingLimits) -> list[Violation]:
    """D6326-1 (décret 2024-561): CDI (CDI intérimaire included); CDD, professionnalisation or
    apprentissage of 6 months or more; a contract of 4 months or more **for a seasonal job
    only** (CDD saisonnier, or a seasonal mission); otherwise contrats de mission totalling 6
    months or more within the 9 months after the training (a single non-seasonal 4-month mission
    does not qualify)."""
    kind, months = contract.type, contract.duration_months or 0

    def refused(message: str, field: str = "expected_contract.duration_months") -> list[Violation]:
        return [Violation("poei.contract", field, message, ART_POEI_TERMS)]

    if kind in {ContractType.CDI, ContractType.CDI_INTERIMAIRE}:
        return []
    if kind in {ContractType.CDD, ContractType.PROFESSIONNALISATION, ContractType.APPRENTISSAGE}:
        minimum = limits.poei_min_months_fixed_term
        if months < minimum:
            return refused(f"{kind.label} de {months} mois après une POEI : {minimum} mois minimum")
        return []
    if kind is ContractType.CDD_SAISONNIER:
        minimum = limits.poei_min_months_seasonal_or_mission
        if months < minimum:
            return refused(f"{kind.label} de {months} mois après une POEI : {minimum} mois minimum")
        return []
    if kind is ContractType.MISSION:
        if contract.seasonal and months >= limits.poei_min_months_seasonal_or_mission:
            return []
        total = max(contract.missions_total_months or 0, months)
        if total >= limits.poei_min_months_missions_total:
            return []
        return refused(
            f"contrat(s) de mission après une POEI : une mission d'au moins "
            f"{limits.poei_min_months_seasonal_or_mission} mois pour un emploi saisonnier "
            f"seulement ; sinon des missions totalisant {limits.poei_min_months_missions_total} "
            f"mois dans les {limits.poei_missions_window_months} mois suivant la formation",
            "expected_contract",
        )
    return refused(f"{kind.label} : contrat non prévu après une POEI", "expected_contract.type")


def check_poec_session(
    *,
    total_hours: int,
    company_hours: int,
    temporary_work: bool,
    opco: str,
    limits: TrainingLimits,
) -> list[Violation]:
    """L6326-3: at most 400 h, at most a third in a company; the branch's OPCO (AKTO for
    temporary work) identifies the needs."""
    found = []
    if total_hours <= 0:
        found.append(Violation("poec.hours", "total_hours", "le nombre d'heures doit être positif"))
    if total_hours > limits.poec_max_hours:
        found.append(
            Violation(
                "poec.hours",
                "total_hours",
                f"POEC de {total_hours} h : au plus {limits.poec_max_hours} h",
                RULE_POEC_FRAMEWORK,
            )
        )
    share = limits.poec_company_share_denominator
    if company_hours < 0 or company_hours * share > total_hours:
        found.append(
            Violation(
                "poec.company_share",
                "company_hours",
                f"{company_hours} h en entreprise sur {total_hours} h : au plus 1/{share} du total",
                RULE_POEC_FRAMEWORK,
            )
        )
    expected = limits.poec_temporary_work_opco
    if temporary_work and opco.strip().upper() != expected.upper():
        found.append(
            Violation(
                "poec.opco",
                "opco",
                f"une POEC du travail temporaire est portée par l'OPCO {expected}",
                ART_POEC,
            )
        )
    return found


def check_poec_contract(
    contract_type: ContractType | None,
    months: int | None,
    *,
    temporary_work: bool,
    limits: TrainingLimits,
) -> list[Violation]:
    """L6326-3: the jobs a POEC prepares for are filled by a CDI, a CDD or a professionalisation
    contract of 12 months or more, or an apprenticeship contract. In temporary work the trainee
    is given missions after it (a contrat de mission is then the expected follow-up)."""
    if contract_type is None:
        return []
    minimum = limits.poec_min_months_fixed_term
    if contract_type in {
        ContractType.CDI,
        ContractType.CDI_INTERIMAIRE,
        ContractType.APPRENTISSAGE,
    }:
        return []
    if contract_type in {ContractType.CDD, ContractType.PROFESSIONNALISATION}:
        if (months or 0) >= minimum:
            return []
        return [
            Violation(
                "poec.contract",
                "contract_months",
                f"{contract_type.label} de {months or 0} mois après une POEC : {minimum} mois "
                "minimum",
                ART_POEC,
            )
        ]
    if contract_type is ContractType.MISSION and temporary_work:
        return []
    return [
        Violation(
            "poec.contract",
            "contract_type",
            f"{contract_type.label} : après une POEC, un CDI, un CDD ou un contrat de "
            f"professionnalisation d'au moins {minimum} mois, ou un contrat d'apprentissage "
            "(des missions dans le travail temporaire)",
            ART_POEC,
        )
    ]


#: The follow-up of L6326-3's duty: its delay is the platform's setting, no text sets one.
RULE_POEC_MISSIONS_FOLLOW_UP = (
    ART_POEC + " (missions après une POEC dans le travail temporaire ; délai de suivi : "
    "paramètre de la plateforme)"
)


def missions_overdue(
    *,
    expected: bool | None,
    missions_given: int,
    ended_on: date,
    today: date,
    limits: TrainingLimits,
) -> bool:
    """A completed temporary-work POEC whose trainee was given no mission
    ``poec_missions_follow_up_days`` after its end (L6326-3: missions are given after it)."""
    if not expected or missions_given > 0:
        return False
    return (today - ended_on).days > limits.poec_missions_follow_up_days


def check_mission_after_poec(
    *, expected: bool | None, poec_end: date, start: date, end: date
) -> list[Violation]:
    """A mission recorded as given after a temporary-work POEC starts after the training."""
    if not expected:
        return [
            Violation(
                "poec.missions",
                "enrolment_id",
                "des missions se suivent après une POEC du travail temporaire terminée",
                ART_POEC,
            )
        ]
    found = []
    if start < poec_end:
        found.append(
            Violation(
                "poec.missions",
                "start_date",
                "la mission suit la POEC : elle commence après la fin de la formation",
                ART_POEC,
            )
        )
    if end < start:
        found.append(
            Violation("poec.missions", "end_date", "la date de fin précède la date de début")
        )
    return found

"""PMSMP immersion conventions (période de mise en situation en milieu professionnel).

- The lifecycle is a table in the national tool's style (immersion-facile,
  ``conventionStatusTransitions.ts``): for each *target* status, the statuses it may be reached
  from and the actors who may take it there (:data:`TRANSITIONS`, a shared
  :class:`~shared.domain.transitions.TransitionTable`); :func:`check_transition` refuses anything
  else. The statuses are :class:`shared.contracts.dispositifs.ImmersionStatus`.
- The legal rules (Code du travail L5135-1 ff., D5135-1 ff.) are functions returning the
  :class:`Violation` they find, each citing its article. The limits the law leaves to the national
  tool, or that DOMAIN.md marks UNVERIFIED, come in :class:`ImmersionLimits` (settings).

Durations are counted in calendar days, start and end dates included. A convention must fit in
"1 month date to date" (D5135-3: from 15 January, until 14 February at the latest; from 31 January,
until the last day of February) *and*, by default, in the national tool's 30 calendar days: the
stricter of the two applies. Both are settings.
"""

from __future__ import annotations

import calendar
import enum
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from dispositifs.domain import code_du_travail
from dispositifs.domain.working_time import WeeklySchedule, WorkingTimeLimits, check_working_time
from shared.contracts.dispositifs import ImmersionStatus
from shared.contracts.vocabulary import ImmersionObjet
from shared.domain.errors import Violation
from shared.domain.transitions import TransitionTable

# -- legal references ------------------------------------------------------------------------------
#: Objet: exactly one of three.
ART_OBJET = code_du_travail("L5135-1")
#: Who may prescribe a PMSMP.
ART_PRESCRIBERS = code_du_travail("L5135-2")
#: Mandatory content of the convention (décret 2023-1304), tutor included.
ART_CONTENT = code_du_travail("D5135-2")
#: Duration, renewal, same beneficiary and host within 12 months.
ART_DURATION = code_du_travail("D5135-3")
#: The uses a PMSMP may not serve (a permanent post's regular task, a peak, a seasonal job,
#: replacing an absent employee): declared by the host.
ART_NOT_ALLOWED_USES = code_du_travail("L5135-4")
#: 48 h a week: the maximum weekly working time of the host's employees (the beneficiary follows
#: the host's rules on working time); kept for the existing rule code ``pmsmp.weekly_hours``.
ART_WEEKLY_HOURS = code_du_travail("L3121-20")
#: 16 years old: the minimum working age, applied by the national tool to beneficiaries.
ART_MIN_AGE = code_du_travail("L4153-1") + " (âge minimum de l'outil national)"
#: Rules the law does not set but the national tool (immersion-facile) applies: 30 calendar days
#: at most (the law allows "1 month date to date", 1 → 31 January), and a written justification of
#: a renewal. Cited as the tool's rule, never as an article.
NATIONAL_TOOL_RULE = "règle de l'outil national immersion-facile"


class Actor(enum.StrEnum):
    COUNSELLOR = "counsellor"  # the prescriber's counsellor (France Travail)
    AGENCY = "agency"  # an agence d'emploi, over Kafka through the referral service
    SYSTEM = "system"  # this service on its own (start date reached, referral withdrawn…)
    #: A party of the convention through its own signed link (actor id: its role).
    SIGNATORY = "signatory"


S = ImmersionStatus
_BEFORE_VALIDATION = frozenset({S.REQUESTED, S.READY_TO_SIGN, S.PARTIALLY_SIGNED, S.SIGNED})

#: Target status ← allowed previous statuses and actors (immersion-facile style); the action is
#: the target's value. Rejected, cancelled and deprecated need a justification.
TRANSITIONS: TransitionTable[ImmersionStatus] = TransitionTable.by_target(
    "convention",
    {
        S.REQUESTED: ({None}, {Actor.AGENCY, Actor.COUNSELLOR}),
        # Marked ready by the counsellor; back to ready to sign when edited after (every
        # signature is then reset and each party signs again).
        S.READY_TO_SIGN: (
            {S.REQUESTED, S.READY_TO_SIGN, S.PARTIALLY_SIGNED, S.SIGNED},
            {Actor.COUNSELLOR},
        ),
        # Each party signs through its own link; the counsellor signs for no one (issue 13).
        S.PARTIALLY_SIGNED: ({S.READY_TO_SIGN, S.PARTIALLY_SIGNED}, {Actor.SIGNATORY}),
        S.SIGNED: ({S.READY_TO_SIGN, S.PARTIALLY_SIGNED}, {Actor.SIGNATORY}),
        S.VALIDATED: ({S.SIGNED}, {Actor.COUNSELLOR}),
        S.IN_PROGRESS: ({S.VALIDATED}, {Actor.COUNSELLOR, Actor.SYSTEM}),
        # From the tutor's assessment (its link), or the counsellor on or after the last day.
        S.COMPLETED: ({S.IN_PROGRESS}, {Actor.COUNSELLOR, Actor.SIGNATORY}),
        # A request breaking a rule is rejected by the system when it arrives over Kafka.
        S.REJECTED: (_BEFORE_VALIDATION | {None}, {Actor.COUNSELLOR, Actor.SYSTEM}),
        # A completed convention (it has its assessment) can never be cancelled.
        S.CANCELLED: (_BEFORE_VALIDATION | {S.VALIDATED, S.IN_PROGRESS}, {Actor.COUNSELLOR}),
        S.DEPRECATED: (_BEFORE_VALIDATION, {Actor.COUNSELLOR, Actor.SYSTEM}),
    },
    justification_required={S.REJECTED, S.CANCELLED, S.DEPRECATED},
    labels={status: status.label for status in ImmersionStatus},
)

#: Conventions that no longer count (for the 12-month rules, for a renewal…).
DEAD_STATUSES = frozenset({S.REJECTED, S.CANCELLED, S.DEPRECATED})
#: Whose content the counsellor may still complete or correct (after *requested*, an edit resets
#: the signatures).
EDITABLE_STATUSES = frozenset({S.REQUESTED, S.READY_TO_SIGN, S.PARTIALLY_SIGNED, S.SIGNED})
#: Which may be signed (the second signature makes it signed).
SIGNABLE_STATUSES = frozenset({S.READY_TO_SIGN, S.PARTIALLY_SIGNED})


def check_transition(
    current: ImmersionStatus | None,
    target: ImmersionStatus,
    actor: Actor,
    *,
    justification: str | None = None,
) -> ImmersionStatus:
    """``target`` if :data:`TRANSITIONS` lets ``actor`` take the convention there from
    ``current``, else :class:`~shared.domain.errors.TransitionRefused` (409) saying why."""
    return TRANSITIONS.check(target.value, current, actor, justification=justification).target


# -- limits ----------------------------------------------------------------------------------------


class PrescriberKind(enum.StrEnum):
    """Who prescribes the PMSMP (L5135-2), plus kinds that may *not* (kept so a request naming one
    is refused with its reason rather than unreadable)."""

    FRANCE_TRAVAIL = "france_travail"
    MISSION_LOCALE = "mission_locale"
    CAP_EMPLOI = "cap_emploi"
    SIAE = "siae"  # structures de l'insertion par l'activité économique, except ETTI
    CONSEIL_DEPARTEMENTAL = "conseil_departemental"
    PREPA_APPRENTISSAGE = "prepa_apprentissage"
    DELEGATED_BODY = "delegated_body"  # organisme conventionné par délégation
    ETTI = "etti"  # entreprise de travail temporaire d'insertion: excluded by L5135-2
    AGENCE_EMPLOI = "agence_emploi"  # UNVERIFIED: modelled as requester, not prescriber


DEFAULT_ALLOWED_PRESCRIBERS = frozenset(
    {
        PrescriberKind.FRANCE_TRAVAIL,
        PrescriberKind.MISSION_LOCALE,
        PrescriberKind.CAP_EMPLOI,
        PrescriberKind.SIAE,
        PrescriberKind.CONSEIL_DEPARTEMENTAL,
        PrescriberKind.PREPA_APPRENTISSAGE,
        PrescriberKind.DELEGATED_BODY,
    }
)


@dataclass(frozen=True)
class ImmersionLimits:
    """Limits of the PMSMP rules; defaults are DOMAIN.md's (settings may change them)."""

    #: D5135-3: "1 month date to date".
    month_date_to_date: bool = True
    #: The national tool's cap in calendar days (None: the month rule only).
    max_calendar_days: int | None = 30
    max_weekly_hours: float = 48
    min_age: int = 16
    max_conventions_per_pair: int = 2
    pair_window_months: int = 12
    max_days_per_pair: int = 60
    allowed_prescribers: frozenset[PrescriberKind] = field(
        default_factory=lambda: DEFAULT_ALLOWED_PRESCRIBERS
    )
    working_time: WorkingTimeLimits = field(default_factory=WorkingTimeLimits)


# -- date arithmetic -------------------------------------------------------------------------------


def calendar_days(start: date, end: date) -> int:
    """Days of a period, both ends included (1 March → 30 March is 30 days)."""
    return (end - start).days + 1


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of that month when it has no such day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_date_to_date_end(start: date) -> date:
    """Last day of "1 month date to date" from ``start``: the day before the same day next month
    (15 January → 14 February); when next month has no such day, its last day (31 January →
    28 or 29 February), as for délais computed "de date à date"."""
    month_index = start.month  # next month, 0-based
    year, month = start.year + month_index // 12, month_index % 12 + 1
    if start.day > calendar.monthrange(year, month)[1]:
        return date(year, month, calendar.monthrange(year, month)[1])
    return date(year, month, start.day) - timedelta(days=1)


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


# -- the rules -------------------------------------------------------------------------------------


def check_objet(objet: str | None) -> list[Violation]:
    """L5135-1: exactly one objet among the three."""
    if objet in {o.value for o in ImmersionObjet}:
        return []
    return [
        Violation(
            "pmsmp.objet",
            "objet",
            "l'objet doit être l'un des trois : découvrir un métier ou un secteur, confirmer un "
            "projet professionnel, initier une démarche de recrutement",
            ART_OBJET,
        )
    ]


def check_duration(
    start: date, end: date, limits: ImmersionLimits, *, what: str = "la convention"
) -> list[Violation]:
    """D5135-3: at most 1 month date to date; the national tool's cap in calendar days (its rule,
    not the law's)."""
    if end < start:
        return [
            Violation("pmsmp.dates", "end_date", "la date de fin précède la date de début", None)
        ]
    found = []
    days = calendar_days(start, end)
    if limits.month_date_to_date and end > month_date_to_date_end(start):
        latest = month_date_to_date_end(start)
        found.append(
            Violation(
                "pmsmp.duration.month",
                "end_date",
                f"{what} dépasse un mois de date à date : du {start:%d/%m/%Y}, fin au plus tard "
                f"le {latest:%d/%m/%Y}",
                ART_DURATION,
            )
        )
    if limits.max_calendar_days is not None and days > limits.max_calendar_days:
        found.append(
            Violation(
                "pmsmp.duration.days",
                "end_date",
                f"{what} dure {days} jours calendaires, au plus {limits.max_calendar_days}",
                NATIONAL_TOOL_RULE,
            )
        )
    return found


def check_weekly_hours(weekly_hours: float | None, limits: ImmersionLimits) -> list[Violation]:
    if weekly_hours is None:
        return []
    if weekly_hours <= 0:
        return [
            Violation("pmsmp.hours", "weekly_hours", "la durée hebdomadaire doit être positive")
        ]
    # The cap (48 h, or 35 h under 18) is checked by ``check_working_time``.
    return []


def check_age(birth_date: date | None, start: date, limits: ImmersionLimits) -> list[Violation]:
    """The beneficiary is at least ``min_age`` on the first day of the immersion."""
    if birth_date is None:
        return []
    age = age_on(birth_date, start)
    if age < limits.min_age:
        return [
            Violation(
                "pmsmp.age",
                "beneficiary.birth_date",
                f"le bénéficiaire aura {age} ans au début de l'immersion, il faut {limits.min_age} "
                "ans ou plus",
                ART_MIN_AGE,
            )
        ]
    return []


def check_tutor(tutor_name: str | None) -> list[Violation]:
    """D5135-2: the host names a tutor (their function is part of the mandatory content)."""
    if tutor_name and tutor_name.strip():
        return []
    return [Violation("pmsmp.tutor", "tutor.name", "un tuteur est obligatoire", ART_CONTENT)]


def check_prescriber(kind: str | None, limits: ImmersionLimits) -> list[Violation]:
    """L5135-2: France Travail, missions locales, Cap emploi, SIAE (not ETTI), the conseil
    départemental, prépa-apprentissage bodies, bodies holding a delegation."""
    if kind is None or kind in {k.value for k in limits.allowed_prescribers}:
        return []
    return [
        Violation(
            "pmsmp.prescriber",
            "prescriber.kind",
            f"« {kind} » ne peut pas prescrire une PMSMP (France Travail, mission locale, "
            "Cap emploi, SIAE hors ETTI, conseil départemental, prépa-apprentissage, organisme "
            "délégataire)",
            ART_PRESCRIBERS,
        )
    ]


def check_siret(siret: str | None) -> list[Violation]:
    """D5135-2 asks for the host's registration number: a valid SIRET (Luhn, La Poste excepted)."""
    from stdnum.fr import siret as stdnum_siret

    if siret is None or stdnum_siret.is_valid(siret):
        return []
    return [Violation("pmsmp.siret", "host.siret", "numéro SIRET invalide", ART_CONTENT)]


#: D5135-2's mandatory content: field → what it is (French, for the error message).
MANDATORY_CONTENT: dict[str, str] = {
    "prescriber.kind": "type de prescripteur",
    "prescriber.name": "identité du prescripteur",
    "beneficiary.first_name": "prénom du bénéficiaire",
    "beneficiary.last_name": "nom du bénéficiaire",
    "beneficiary.birth_date": "date de naissance du bénéficiaire",
    "beneficiary.professional_situation": "situation professionnelle du bénéficiaire",
    "host.name": "nom de la structure d'accueil",
    "host.siret": "SIRET de la structure d'accueil",
    "host.address": "adresse de la structure d'accueil",
    "host.legal_form": "forme juridique de la structure d'accueil",
    "host.activity": "activité de la structure d'accueil",
    "host.collective_agreement": "convention collective de la structure d'accueil",
    "tutor.name": "nom du tuteur",
    "tutor.function": "fonction du tuteur",
    "support.structure": "structure d'accompagnement",
    "support.referent": "conseiller référent",
    "place": "lieu de l'immersion",
    "weekly_hours": "nombre d'heures",
    "schedule": "horaires",
    "objectives": "objectifs précis",
    "evaluation_method": "modalités d'évaluation des objectifs",
    "tasks": "activités et tâches confiées",
}


def check_mandatory_content(content: dict[str, object]) -> list[Violation]:
    """D5135-2: every mandatory item is filled in (``content`` maps the keys above to values)."""
    return [
        Violation("pmsmp.content", name, f"{label} : mention obligatoire", ART_CONTENT)
        for name, label in MANDATORY_CONTENT.items()
        if content.get(name) is None or (isinstance(content[name], str) and not content[name])
    ]


@dataclass(frozen=True, slots=True)
class PastConvention:
    """Another live convention of the same beneficiary at the same host."""

    start_date: date
    end_date: date
    objectives: str | None
    objet: str
    is_renewal: bool = False


#: Punctuation that does not make objectives different ("Confirmer le projet." = "confirmer le
#: projet").
_TRAILING = " \t\n.;:,!?…-–—"


def normalise_objectives(text: str | None) -> str:
    """Objectives as compared by the rules: Unicode-normalised, case-folded, spaces collapsed,
    quotes unified, trailing punctuation dropped."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("’", "'").replace("«", '"').replace("»", '"')
    return " ".join(folded.split()).strip(_TRAILING)


def same_objectives(a: str | None, b: str | None) -> bool:
    na, nb = normalise_objectives(a), normalise_objectives(b)
    return bool(na) and na == nb


def check_pair_history(
    start: date,
    end: date,
    objectives: str | None,
    others: Sequence[PastConvention],
    limits: ImmersionLimits,
    *,
    is_renewal: bool = False,
    objet: str = "",
) -> list[Violation]:
    """D5135-3, same beneficiary and same host: at most 2 conventions in any rolling 12 months,
    provided they have different objets *or* different objectives (either differing suffices),
    together at most 60 days.

    A renewal extends its convention: it is not a new convention for the count and the
    objectives (it keeps them, its objectives not being reached), but its days count.
    """
    new = PastConvention(start, end, objectives, objet, is_renewal)
    everyone = [*others, new]
    found: list[Violation] = []
    # The busiest window holding the new convention starts at some convention's start date.
    anchors = sorted({c.start_date for c in everyone if c.start_date <= start})
    worst_count, worst_days = 0, 0
    for anchor in anchors:
        window_end = add_months(anchor, limits.pair_window_months)
        if not (anchor <= start < window_end):
            continue
        inside = [c for c in everyone if anchor <= c.start_date < window_end]
        worst_count = max(worst_count, sum(1 for c in inside if not c.is_renewal))
        worst_days = max(worst_days, sum(calendar_days(c.start_date, c.end_date) for c in inside))
    window = f"{limits.pair_window_months} mois"
    if not is_renewal and worst_count > limits.max_conventions_per_pair:
        found.append(
            Violation(
                "pmsmp.pair.count",
                "start_date",
                f"ce bénéficiaire a déjà {worst_count - 1} conventions dans cette structure "
                f"d'accueil sur {window} glissants, au plus {limits.max_conventions_per_pair}",
                ART_DURATION,
            )
        )
    if worst_days > limits.max_days_per_pair:
        found.append(
            Violation(
                "pmsmp.pair.days",
                "end_date",
                f"avec ce bénéficiaire et cette structure d'accueil, les immersions totalisent "
                f"{worst_days} jours sur {window} glissants, au plus {limits.max_days_per_pair}",
                ART_DURATION,
            )
        )
    if not is_renewal:
        horizon_start = add_months(start, -limits.pair_window_months)
        horizon_end = add_months(start, limits.pair_window_months)
        if any(
            not c.is_renewal
            and horizon_start < c.start_date < horizon_end
            and c.objet == objet
            and same_objectives(c.objectives, objectives)
            for c in others
        ):
            found.append(
                Violation(
                    "pmsmp.pair.objectives",
                    "objectives",
                    "une autre convention avec ce bénéficiaire et cette structure d'accueil a le "
                    f"même objet et les mêmes objectifs sur {window} : l'objet ou les objectifs "
                    "doivent différer",
                    ART_DURATION,
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class RenewedConvention:
    """The convention a renewal extends, as far as the renewal rules need it."""

    status: ImmersionStatus
    objet: str
    objectives_reached: bool | None
    is_renewal: bool
    #: A live renewal of it already exists.
    already_renewed: bool
    objectives: str | None = None
    end_date: date | None = None


def check_renewal(
    original: RenewedConvention,
    objet: str,
    objectives: str | None = None,
    start: date | None = None,
    *,
    justification: str | None = None,
) -> list[Violation]:
    """D5135-3: renewable once, only if the objectives were not reached, for the same objet and
    the same objectives, following the first convention (it starts after the original's end); a
    renewal is justified (the national tool asks why; ``None``: not checked here)."""
    found = []
    if original.is_renewal or original.already_renewed:
        found.append(
            Violation(
                "pmsmp.renewal.once",
                "renewal_of",
                "une convention ne peut être renouvelée qu'une seule fois",
                ART_DURATION,
            )
        )
    if original.status is not ImmersionStatus.COMPLETED or original.objectives_reached is None:
        found.append(
            Violation(
                "pmsmp.renewal.assessment",
                "renewal_of",
                "le renouvellement suppose le bilan de la convention initiale (objectifs non "
                "atteints)",
                ART_DURATION,
            )
        )
    elif original.objectives_reached:
        found.append(
            Violation(
                "pmsmp.renewal.objectives_reached",
                "renewal_of",
                "les objectifs de la convention initiale sont atteints : pas de renouvellement",
                ART_DURATION,
            )
        )
    if objet != original.objet:
        found.append(
            Violation(
                "pmsmp.renewal.objet",
                "objet",
                "le renouvellement garde l'objet de la convention initiale",
                ART_DURATION,
            )
        )
    if objectives is not None and not same_objectives(objectives, original.objectives):
        found.append(
            Violation(
                "pmsmp.renewal.objectives",
                "objectives",
                "le renouvellement garde les objectifs de la convention initiale",
                ART_DURATION,
            )
        )
    if start is not None and original.end_date is not None and start <= original.end_date:
        found.append(
            Violation(
                "pmsmp.renewal.dates",
                "start_date",
                "le renouvellement fait suite à la convention initiale : il commence après le "
                f"{original.end_date:%d/%m/%Y}",
                ART_DURATION,
            )
        )
    if justification is not None and not justification.strip():
        found.append(
            Violation(
                "pmsmp.renewal.justification",
                "renewal_justification",
                "un renouvellement doit être justifié",
                NATIONAL_TOOL_RULE,
            )
        )
    return found


@dataclass(frozen=True)
class ImmersionTerms:
    """What the rules look at in a convention (request or complete)."""

    objet: str
    start_date: date
    end_date: date
    weekly_hours: float | None
    tutor_name: str | None
    host_siret: str | None
    objectives: str | None
    birth_date: date | None = None
    prescriber_kind: str | None = None
    renewal_of: RenewedConvention | None = None
    #: The structured schedule (None: only ``weekly_hours`` is known).
    schedule: WeeklySchedule | None = None
    renewal_justification: str | None = None


def check_terms(
    terms: ImmersionTerms, others: Sequence[PastConvention], limits: ImmersionLimits
) -> list[Violation]:
    """Every rule that the terms known so far allow to check (a request from an agency has no
    birth date nor prescriber yet: those are checked when the counsellor completes it)."""
    what = "le renouvellement" if terms.renewal_of else "la convention"
    found: list[Violation] = [
        *check_objet(terms.objet),
        *check_duration(terms.start_date, terms.end_date, limits, what=what),
        *check_weekly_hours(terms.weekly_hours, limits),
        *check_working_time(
            terms.schedule,
            terms.weekly_hours,
            terms.birth_date,
            terms.start_date,
            limits.working_time,
        ),
        *check_tutor(terms.tutor_name),
        *check_siret(terms.host_siret),
        *check_age(terms.birth_date, terms.start_date, limits),
        *check_prescriber(terms.prescriber_kind, limits),
    ]
    if terms.renewal_of is not None:
        found += check_renewal(
            terms.renewal_of,
            terms.objet,
            terms.objectives,
            terms.start_date,
            justification=terms.renewal_justification or "",
        )
    if terms.end_date >= terms.start_date:
        found += check_pair_history(
            terms.start_date,
            terms.end_date,
            terms.objectives,
            others,
            limits,
            is_renewal=terms.renewal_of is not None,
            objet=terms.objet,
        )
    return _unique(found)


def _unique(violations: Iterable[Violation]) -> list[Violation]:
    return list(dict.fromkeys(violations))


#: The uses a PMSMP may not serve (L5135-4): the host declares each one excluded.
HOST_DECLARATIONS: dict[str, str] = {
    "not_permanent_post": "l'immersion ne sert pas à exécuter une tâche régulière d'un poste de "
    "travail permanent",
    "not_activity_peak": "elle ne sert pas à faire face à un accroissement temporaire d'activité",
    "not_seasonal_job": "elle ne sert pas à occuper un emploi saisonnier",
    "not_replacing_employee": "elle ne sert pas à remplacer un salarié absent ou dont le contrat "
    "est suspendu",
}


def check_host_declarations(declarations: dict[str, bool] | None) -> list[Violation]:
    """L5135-4: the host declares that the immersion serves none of the uses it excludes."""
    given = declarations or {}
    return [
        Violation(
            "pmsmp.not_allowed_use",
            f"host_declarations.{name}",
            f"la structure d'accueil doit déclarer que {text}",
            ART_NOT_ALLOWED_USES,
        )
        for name, text in HOST_DECLARATIONS.items()
        if given.get(name) is not True
    ]


class AssessmentOutcome(enum.StrEnum):
    """The tutor's assessment (the national tool's): completed, partially completed (last day,
    missed hours), or the beneficiary did not show."""

    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    DID_NOT_SHOW = "did_not_show"

    @property
    def label(self) -> str:
        return {
            AssessmentOutcome.COMPLETED: "Immersion réalisée en totalité",
            AssessmentOutcome.PARTIALLY_COMPLETED: "Immersion réalisée en partie",
            AssessmentOutcome.DID_NOT_SHOW: "Le bénéficiaire ne s'est pas présenté",
        }[self]


def check_assessment_time(end_date: date, today: date) -> list[Violation]:
    """The assessment (and "completed") comes on or after the last day, never before."""
    if today >= end_date:
        return []
    return [
        Violation(
            "pmsmp.assessment.too_early",
            "end_date",
            f"le bilan se fait à partir du dernier jour de l'immersion ({end_date:%d/%m/%Y})",
        )
    ]


def check_assessment(
    outcome: AssessmentOutcome,
    *,
    start: date,
    end: date,
    last_day: date | None,
    missed_hours: float | None,
    job_offered: bool,
    job_contract_type: str | None,
    job_start_date: date | None,
) -> list[Violation]:
    found = []
    if outcome is AssessmentOutcome.PARTIALLY_COMPLETED:
        if last_day is None or not (start <= last_day <= end):
            found.append(
                Violation(
                    "pmsmp.assessment.last_day",
                    "last_day",
                    "immersion réalisée en partie : indiquez le dernier jour de présence, entre "
                    "le début et la fin",
                )
            )
        if missed_hours is None or missed_hours <= 0:
            found.append(
                Violation(
                    "pmsmp.assessment.missed_hours",
                    "missed_hours",
                    "immersion réalisée en partie : indiquez les heures manquées",
                )
            )
    if job_offered and (job_contract_type is None or job_start_date is None):
        found.append(
            Violation(
                "pmsmp.assessment.job",
                "job_contract_type",
                "une embauche proposée précise le type de contrat et la date de début",
            )
        )
    return found

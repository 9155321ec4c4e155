"""The referral's lifecycle as data: each action names its allowed source states, who may take it
and the state it leads to. One function, :func:`apply`, refuses what the table does not allow.

Also the other rules of the referral world that need no I/O: priority publics of a job seeker,
what counts as a durable placement, and how the timeline interleaves the lifecycle with the
dispositifs events.

Plain Python: no database, no web, no broker.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.contracts.vocabulary import ContractType


class ReferralStatus(enum.StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    INTERVIEW_SCHEDULED = "interview_scheduled"
    PLACED = "placed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


_STATUS_LABELS = {
    ReferralStatus.SENT: "Envoyée",
    ReferralStatus.ACKNOWLEDGED: "Prise en compte",
    ReferralStatus.ACCEPTED: "Acceptée",
    ReferralStatus.INTERVIEW_SCHEDULED: "Entretien programmé",
    ReferralStatus.PLACED: "En poste",
    ReferralStatus.DECLINED: "Déclinée",
    ReferralStatus.WITHDRAWN: "Retirée",
    ReferralStatus.EXPIRED: "Expirée",
    ReferralStatus.CLOSED: "Clôturée",
}

FINAL_STATUSES = frozenset(
    {
        ReferralStatus.DECLINED,
        ReferralStatus.WITHDRAWN,
        ReferralStatus.EXPIRED,
        ReferralStatus.CLOSED,
    }
)
#: States in which a referral is still open (one open referral per job seeker, agency, offer).
OPEN_STATUSES = frozenset(set(ReferralStatus) - FINAL_STATUSES)


class Actor(enum.StrEnum):
    COUNSELLOR = "counsellor"
    AGENCY = "agency"
    SYSTEM = "system"


class Action(enum.StrEnum):
    SEND = "send"
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    SCHEDULE_INTERVIEW = "schedule_interview"
    DECLINE = "decline"
    REQUEST_IMMERSION = "request_immersion"
    START_PLACEMENT = "start_placement"
    END_PLACEMENT = "end_placement"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    Action.SEND: "Orientation envoyée",
    Action.ACKNOWLEDGE: "Orientation prise en compte par l'agence",
    Action.ACCEPT: "Candidature acceptée par l'agence",
    Action.SCHEDULE_INTERVIEW: "Entretien d'embauche programmé",
    Action.DECLINE: "Orientation déclinée par l'agence",
    Action.REQUEST_IMMERSION: "Immersion (PMSMP) demandée par l'agence",
    Action.START_PLACEMENT: "Prise de poste",
    Action.END_PLACEMENT: "Fin de contrat",
    Action.WITHDRAW: "Orientation retirée par le conseiller",
    Action.EXPIRE: "Orientation expirée sans réponse",
}


@dataclass(frozen=True, slots=True)
class Transition:
    sources: frozenset[ReferralStatus | None]
    actors: frozenset[Actor]
    #: None: the action is recorded in the timeline but leaves the state as it is.
    target: ReferralStatus | None


S = ReferralStatus
_ANSWERABLE = frozenset({S.SENT, S.ACKNOWLEDGED})
_IN_PROGRESS = frozenset({S.SENT, S.ACKNOWLEDGED, S.ACCEPTED, S.INTERVIEW_SCHEDULED})

TRANSITIONS: dict[Action, Transition] = {
    Action.SEND: Transition(frozenset({None}), frozenset({Actor.COUNSELLOR}), S.SENT),
    Action.ACKNOWLEDGE: Transition(frozenset({S.SENT}), frozenset({Actor.AGENCY}), S.ACKNOWLEDGED),
    Action.ACCEPT: Transition(_ANSWERABLE, frozenset({Actor.AGENCY}), S.ACCEPTED),
    Action.SCHEDULE_INTERVIEW: Transition(
        _IN_PROGRESS, frozenset({Actor.AGENCY}), S.INTERVIEW_SCHEDULED
    ),
    Action.DECLINE: Transition(_IN_PROGRESS, frozenset({Actor.AGENCY}), S.DECLINED),
    # An immersion serves a referral still in progress: it does not move the referral; the PMSMP
    # convention's own lifecycle lives in the dispositifs service.
    Action.REQUEST_IMMERSION: Transition(_IN_PROGRESS, frozenset({Actor.AGENCY}), None),
    Action.START_PLACEMENT: Transition(
        frozenset({S.ACCEPTED, S.INTERVIEW_SCHEDULED}), frozenset({Actor.AGENCY}), S.PLACED
    ),
    Action.END_PLACEMENT: Transition(frozenset({S.PLACED}), frozenset({Actor.AGENCY}), S.CLOSED),
    Action.WITHDRAW: Transition(_IN_PROGRESS, frozenset({Actor.COUNSELLOR}), S.WITHDRAWN),
    # Only a referral the agency has not answered on the merits expires (acknowledging is not an
    # answer). Delay: ReferralSettings.expiry_after_days.
    Action.EXPIRE: Transition(_ANSWERABLE, frozenset({Actor.SYSTEM}), S.EXPIRED),
}

#: Agency actions that answer the referral on the merits or move it on: the first of them is the
#: "first answer" the indicators time (acknowledging counts: the agency has reacted).
ANSWER_ACTIONS = frozenset(
    {
        Action.ACKNOWLEDGE,
        Action.ACCEPT,
        Action.SCHEDULE_INTERVIEW,
        Action.DECLINE,
        Action.REQUEST_IMMERSION,
        Action.START_PLACEMENT,
    }
)


class TransitionNotAllowed(Exception):
    """The action is not allowed from this state, or not for this actor."""


def apply(current: ReferralStatus | None, action: Action, actor: Actor) -> ReferralStatus:
    """Return the state ``action`` leads to, or raise :class:`TransitionNotAllowed` saying why."""
    transition = TRANSITIONS[action]
    if actor not in transition.actors:
        raise TransitionNotAllowed(f"{actor.value} may not {action.value} a referral")
    if current not in transition.sources:
        state = current.value if current else "(new)"
        raise TransitionNotAllowed(f"cannot {action.value} a referral in state {state}")
    if transition.target is None:
        assert current is not None  # SEND is the only action from (new), and it has a target
        return current
    return transition.target


# -- priority publics ------------------------------------------------------------------------


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
    """What a job seeker agreed may be shared with one agency."""

    IDENTITY = "identity"
    RQTH = "rqth"

    @property
    def label(self) -> str:
        return {
            ConsentScope.IDENTITY: "Identité et coordonnées",
            # CNIL: RQTH status is health data (RGPD art. 9): explicit consent for each sharing.
            ConsentScope.RQTH: "Reconnaissance de la qualité de travailleur handicapé (RQTH)",
        }[self]


# -- offers -------------------------------------------------------------------------------------


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


# -- timeline -----------------------------------------------------------------------------------


class Scheme(enum.StrEnum):
    """France Travail schemes (dispositifs) a referral can go through."""

    IMMERSION = "immersion"
    MRS = "mrs"
    POEI = "poei"
    POEC = "poec"

    @property
    def label(self) -> str:
        return {
            Scheme.IMMERSION: "Immersion (PMSMP)",
            Scheme.MRS: "Méthode de recrutement par simulation (MRS)",
            Scheme.POEI: "POEI",
            Scheme.POEC: "POEC",
        }[self]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a referral's timeline: a lifecycle transition or a dispositifs event."""

    kind: str  # "transition" | "scheme_event"
    occurred_at: datetime
    #: The time the entry is placed at: never earlier than the transition before it, so that the
    #: timeline reads in order even when an agency's clock is behind ours.
    sort_at: datetime
    label: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoggedTransition:
    occurred_at: datetime
    label: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoggedSchemeEvent:
    occurred_at: datetime
    label: str
    payload: dict[str, Any]


def build_timeline(
    transitions: Sequence[LoggedTransition], scheme_events: Iterable[LoggedSchemeEvent]
) -> list[TimelineEntry]:
    """Interleave the transition log (kept in the order it was applied: that order *is* the
    lifecycle) with the dispositifs events (placed by the time they happened)."""
    entries: list[TimelineEntry] = []
    floor: datetime | None = None
    for transition in transitions:
        sort_at = transition.occurred_at if floor is None else max(floor, transition.occurred_at)
        floor = sort_at
        entries.append(
            TimelineEntry(
                "transition", transition.occurred_at, sort_at, transition.label, transition.payload
            )
        )
    events = sorted(scheme_events, key=lambda e: e.occurred_at)
    merged: list[TimelineEntry] = []
    i = 0
    for event in events:
        # A scheme event goes after every transition placed at or before its time.
        while i < len(entries) and entries[i].sort_at <= event.occurred_at:
            merged.append(entries[i])
            i += 1
        # Every entry already placed is at or before this event's time: it sorts at its own.
        merged.append(
            TimelineEntry(
                "scheme_event", event.occurred_at, event.occurred_at, event.label, event.payload
            )
        )
    merged.extend(entries[i:])
    return merged

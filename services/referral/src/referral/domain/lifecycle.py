"""The referral's lifecycle as data: each action names its allowed source states, who may take it
and the state it leads to. One function, :func:`apply`, refuses what the table does not allow.

Plain Python: no database, no web, no broker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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

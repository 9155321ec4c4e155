"""The referral's lifecycle as data: each action names its allowed source states, who may take it
and the state it leads to (:data:`LIFECYCLE`, a :class:`shared.domain.transitions.TransitionTable`).
One function, :func:`transition`, refuses what the table does not allow.

The statuses and actions are the contract's (:mod:`shared.contracts.referral`): other services
read them on ``referral.events``.

Plain Python: no database, no web, no broker.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.contracts.referral import ENDED_REFERRAL_STATUSES as ENDED_STATUSES
from shared.contracts.referral import FINAL_REFERRAL_STATUSES as FINAL_STATUSES
from shared.contracts.referral import PriorToHireAction, ReferralStatus
from shared.contracts.referral import ReferralAction as Action
from shared.domain.transitions import Transition, TransitionTable

__all__ = [
    "ANSWER_ACTIONS",
    "ENDED_STATUSES",
    "FINAL_STATUSES",
    "LIFECYCLE",
    "OPEN_STATUSES",
    "STALE_WATCHED",
    "TRANSITIONS",
    "Action",
    "ActionRule",
    "Actor",
    "PriorToHireAction",
    "ReferralStatus",
    "TransitionNotAllowed",
    "apply",
    "transition",
]

#: States in which a referral is still open (one open referral per job seeker, agency, and offer
#: or, without an offer, ROME code): neither final nor declined.
OPEN_STATUSES = frozenset(set(ReferralStatus) - ENDED_STATUSES)


class Actor(enum.StrEnum):
    COUNSELLOR = "counsellor"
    AGENCY = "agency"
    SYSTEM = "system"


S = ReferralStatus
#: Not yet answered on the merits: the referral expires if nothing else happens. A transferred
#: referral waits for its new agency's answer as a sent one waits for its first.
_ANSWERABLE = frozenset({S.SENT, S.ACKNOWLEDGED, S.TRANSFERRED})
#: In progress, before any hire: where an agency may answer, the counsellor withdraw.
_BEFORE_HIRE = frozenset(
    {
        S.SENT,
        S.ACKNOWLEDGED,
        S.ACCEPTED,
        S.INTERVIEW_SCHEDULED,
        S.POSTPONED,
        S.POOL,
        S.PRIOR_TO_HIRE,
        S.TRANSFERRED,
    }
)
#: Where a hire may be recorded: acknowledged (a mission that starts the same day) and every
#: state an agency answered in — not before it acknowledged (sent, transferred).
_HIREABLE = _BEFORE_HIRE - {S.SENT, S.TRANSFERRED}
#: What "no news" is measured on (staleness: a reminder, then ``no_news``).
STALE_WATCHED = frozenset({S.ACCEPTED, S.INTERVIEW_SCHEDULED})


def _row(
    action: Action, sources: Iterable[S | None], actor: Actor, target: S
) -> Transition[ReferralStatus]:
    return Transition(action, frozenset(sources), target, frozenset({actor}), label=action.label)


def _stays(action: Action, sources: Iterable[S], actor: Actor) -> list[Transition[ReferralStatus]]:
    """An action that does not move the referral: one row per state, each to itself."""
    return [_row(action, [s], actor, s) for s in sorted(sources)]


LIFECYCLE: TransitionTable[ReferralStatus] = TransitionTable(
    "Orientation",
    [
        _row(Action.SEND, [None], Actor.COUNSELLOR, S.SENT),
        _row(Action.ACKNOWLEDGE, [S.SENT, S.TRANSFERRED], Actor.AGENCY, S.ACKNOWLEDGED),
        _row(
            Action.ACCEPT,
            _BEFORE_HIRE - {S.ACCEPTED, S.INTERVIEW_SCHEDULED},
            Actor.AGENCY,
            S.ACCEPTED,
        ),
        _row(Action.SCHEDULE_INTERVIEW, _BEFORE_HIRE, Actor.AGENCY, S.INTERVIEW_SCHEDULED),
        _row(Action.DECLINE, _BEFORE_HIRE, Actor.AGENCY, S.DECLINED),
        # An immersion serves a referral still in progress: it does not move the referral; the
        # PMSMP convention's own lifecycle lives in the dispositifs service.
        *_stays(Action.REQUEST_IMMERSION, _BEFORE_HIRE, Actor.AGENCY),
        # "En attente": again with a new date when the agency postpones once more.
        _row(Action.POSTPONE, _BEFORE_HIRE - {S.PRIOR_TO_HIRE}, Actor.AGENCY, S.POSTPONED),
        # Vivier: no mission yet, one to come; again to change the trades.
        _row(Action.ADD_TO_POOL, _BEFORE_HIRE, Actor.AGENCY, S.POOL),
        _row(
            Action.START_PRIOR_TO_HIRE,
            _BEFORE_HIRE - {S.PRIOR_TO_HIRE},
            Actor.AGENCY,
            S.PRIOR_TO_HIRE,
        ),
        _row(Action.TRANSFER, _BEFORE_HIRE - {S.PRIOR_TO_HIRE}, Actor.AGENCY, S.TRANSFERRED),
        _row(Action.START_PLACEMENT, _HIREABLE, Actor.AGENCY, S.PLACED),
        *_stays(Action.EXTEND_PLACEMENT, [S.PLACED], Actor.AGENCY),
        _row(Action.CANCEL_HIRE, [S.PLACED], Actor.AGENCY, S.HIRE_CANCELLED),
        _row(Action.END_PLACEMENT, [S.PLACED], Actor.AGENCY, S.CLOSED),
        # Outcome follow-up at +1, +3, +6 months: the question (system), the answer (agency).
        *_stays(Action.ASK_FOLLOW_UP, [S.PLACED], Actor.SYSTEM),
        *_stays(Action.RECORD_FOLLOW_UP, [S.PLACED], Actor.AGENCY),
        # Within ReferralSettings.reopen_decline_days of the decline (checked by the use case).
        _row(Action.REOPEN, [S.DECLINED], Actor.AGENCY, S.ACKNOWLEDGED),
        _row(Action.WITHDRAW, _BEFORE_HIRE, Actor.COUNSELLOR, S.WITHDRAWN),
        # Hired through another referral: the job seeker's other referrals before hire.
        _row(Action.MAKE_OBSOLETE, _BEFORE_HIRE, Actor.SYSTEM, S.OBSOLETE),
        # Only a referral the agency has not answered on the merits expires (acknowledging is
        # not an answer). Delay: ReferralSettings.expiry_after_days.
        _row(Action.EXPIRE, _ANSWERABLE, Actor.SYSTEM, S.EXPIRED),
        # Staleness (ReferralSettings.stale_after_days, then stale_close_after_days).
        *_stays(Action.REMIND_STALE, STALE_WATCHED, Actor.SYSTEM),
        _row(Action.CLOSE_NO_NEWS, STALE_WATCHED, Actor.SYSTEM, S.NO_NEWS),
        # A job dating's or open day's attendance, noted by the organising counsellor (issue 16):
        # came or not on the timeline; an interview obtained there schedules it; a candidate
        # retained there is accepted — the hire itself (contract, date) stays the agency's
        # start_placement answer.
        *_stays(Action.RECORD_ATTENDANCE, _BEFORE_HIRE | {S.PLACED}, Actor.COUNSELLOR),
        _row(
            Action.LOCAL_ACTION_INTERVIEW,
            _BEFORE_HIRE - {S.PRIOR_TO_HIRE},
            Actor.COUNSELLOR,
            S.INTERVIEW_SCHEDULED,
        ),
        _row(
            Action.LOCAL_ACTION_HIRE, _BEFORE_HIRE - {S.PRIOR_TO_HIRE}, Actor.COUNSELLOR, S.ACCEPTED
        ),
    ],
)


@dataclass(frozen=True, slots=True)
class ActionRule:
    """One action of :data:`LIFECYCLE`, its rows taken together: from where, by whom."""

    action: Action
    sources: frozenset[ReferralStatus | None]
    actors: frozenset[str]


def _rules(table: TransitionTable[ReferralStatus]) -> Mapping[Action, ActionRule]:
    rules: dict[Action, ActionRule] = {}
    for row in table.transitions:
        action = Action(row.action)
        before = rules.get(action)
        rules[action] = ActionRule(
            action,
            row.sources | (before.sources if before else frozenset()),
            row.actors | (before.actors if before else frozenset()),
        )
    return rules


#: The table read by action (which states an action leaves from, who takes it).
TRANSITIONS: Mapping[Action, ActionRule] = _rules(LIFECYCLE)

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
        Action.POSTPONE,
        Action.ADD_TO_POOL,
        Action.START_PRIOR_TO_HIRE,
        Action.TRANSFER,
    }
)


class TransitionNotAllowed(Exception):
    """The action is not allowed from this state, or not for this actor (said in French, with
    the labels people know: the partners' staff read it in the dead letter's ``dlq_error`` and
    the refused-answers audit)."""


def transition(
    current: ReferralStatus | None, action: Action, actor: Actor
) -> Transition[ReferralStatus]:
    """The row of :data:`LIFECYCLE` ``actor`` takes with ``action`` from ``current``, or
    :class:`TransitionNotAllowed` saying why not."""
    if str(actor) not in TRANSITIONS[action].actors:
        raise TransitionNotAllowed(
            f"« {action.label} » ({action.value}) : action réservée"
            f" {_ACTOR_LABELS[Actor(next(iter(TRANSITIONS[action].actors)))]},"
            f" pas {_ACTOR_LABELS[actor]}."
        )
    row = LIFECYCLE.find(action, current)
    if row is None:
        state = f"« {current.label} » ({current.value})" if current else "(nouvelle)"
        allowed = sorted(
            ReferralStatus(s).label for s in TRANSITIONS[action].sources if s is not None
        )
        raise TransitionNotAllowed(
            f"« {action.label} » ({action.value}) impossible : l'orientation est {state}."
            + (f" Possible seulement depuis : {', '.join(allowed)}." if allowed else "")
        )
    return row


_ACTOR_LABELS = {
    Actor.COUNSELLOR: "au conseiller France Travail",
    Actor.AGENCY: "à l'agence",
    Actor.SYSTEM: "à la plateforme",
}


def apply(current: ReferralStatus | None, action: Action, actor: Actor) -> ReferralStatus:
    """The state ``action`` leads to, or :class:`TransitionNotAllowed` saying why not."""
    return transition(current, action, actor).target

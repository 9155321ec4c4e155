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

from shared.contracts.referral import FINAL_REFERRAL_STATUSES as FINAL_STATUSES
from shared.contracts.referral import ReferralAction as Action
from shared.contracts.referral import ReferralStatus
from shared.domain.transitions import Transition, TransitionTable

__all__ = [
    "ANSWER_ACTIONS",
    "FINAL_STATUSES",
    "LIFECYCLE",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Action",
    "ActionRule",
    "Actor",
    "ReferralStatus",
    "TransitionNotAllowed",
    "apply",
    "transition",
]

#: States in which a referral is still open (one open referral per job seeker, agency, offer).
OPEN_STATUSES = frozenset(set(ReferralStatus) - FINAL_STATUSES)


class Actor(enum.StrEnum):
    COUNSELLOR = "counsellor"
    AGENCY = "agency"
    SYSTEM = "system"


S = ReferralStatus
_ANSWERABLE = frozenset({S.SENT, S.ACKNOWLEDGED})
_IN_PROGRESS = frozenset({S.SENT, S.ACKNOWLEDGED, S.ACCEPTED, S.INTERVIEW_SCHEDULED})


def _row(
    action: Action, sources: Iterable[S | None], actor: Actor, target: S
) -> Transition[ReferralStatus]:
    return Transition(action, frozenset(sources), target, frozenset({actor}), label=action.label)


LIFECYCLE: TransitionTable[ReferralStatus] = TransitionTable(
    "Orientation",
    [
        _row(Action.SEND, [None], Actor.COUNSELLOR, S.SENT),
        _row(Action.ACKNOWLEDGE, [S.SENT], Actor.AGENCY, S.ACKNOWLEDGED),
        _row(Action.ACCEPT, _ANSWERABLE, Actor.AGENCY, S.ACCEPTED),
        _row(Action.SCHEDULE_INTERVIEW, _IN_PROGRESS, Actor.AGENCY, S.INTERVIEW_SCHEDULED),
        _row(Action.DECLINE, _IN_PROGRESS, Actor.AGENCY, S.DECLINED),
        # An immersion serves a referral still in progress: it does not move the referral (one
        # row per state, each to itself); the PMSMP convention's own lifecycle lives in the
        # dispositifs service.
        *(_row(Action.REQUEST_IMMERSION, [s], Actor.AGENCY, s) for s in sorted(_IN_PROGRESS)),
        _row(Action.START_PLACEMENT, [S.ACCEPTED, S.INTERVIEW_SCHEDULED], Actor.AGENCY, S.PLACED),
        _row(Action.END_PLACEMENT, [S.PLACED], Actor.AGENCY, S.CLOSED),
        _row(Action.WITHDRAW, _IN_PROGRESS, Actor.COUNSELLOR, S.WITHDRAWN),
        # Only a referral the agency has not answered on the merits expires (acknowledging is
        # not an answer). Delay: ReferralSettings.expiry_after_days.
        _row(Action.EXPIRE, _ANSWERABLE, Actor.SYSTEM, S.EXPIRED),
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
    }
)


class TransitionNotAllowed(Exception):
    """The action is not allowed from this state, or not for this actor (said in English: the
    agency integrations read it in the dead letter's ``dlq_error``)."""


def transition(
    current: ReferralStatus | None, action: Action, actor: Actor
) -> Transition[ReferralStatus]:
    """The row of :data:`LIFECYCLE` ``actor`` takes with ``action`` from ``current``, or
    :class:`TransitionNotAllowed` saying why not."""
    if str(actor) not in TRANSITIONS[action].actors:
        raise TransitionNotAllowed(f"{actor.value} may not {action.value} a referral")
    row = LIFECYCLE.find(action, current)
    if row is None:
        state = current.value if current else "(new)"
        raise TransitionNotAllowed(f"cannot {action.value} a referral in state {state}")
    return row


def apply(current: ReferralStatus | None, action: Action, actor: Actor) -> ReferralStatus:
    """The state ``action`` leads to, or :class:`TransitionNotAllowed` saying why not."""
    return transition(current, action, actor).target

"""The referral transition table, checked exhaustively: every state × action × actor."""

from __future__ import annotations

import itertools

import pytest

from referral.domain import (
    FINAL_STATUSES,
    TRANSITIONS,
    Action,
    Actor,
    ReferralStatus,
    TransitionNotAllowed,
    apply,
)

S = ReferralStatus

# The expected outcomes, written out independently of the table under test.
EXPECTED: dict[tuple[S | None, Action, Actor], S] = {
    (None, Action.SEND, Actor.COUNSELLOR): S.SENT,
    (S.SENT, Action.ACKNOWLEDGE, Actor.AGENCY): S.ACKNOWLEDGED,
    (S.SENT, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.ACKNOWLEDGED, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.SENT, Action.SCHEDULE_INTERVIEW, Actor.AGENCY): S.INTERVIEW_SCHEDULED,
    (S.ACKNOWLEDGED, Action.SCHEDULE_INTERVIEW, Actor.AGENCY): S.INTERVIEW_SCHEDULED,
    (S.ACCEPTED, Action.SCHEDULE_INTERVIEW, Actor.AGENCY): S.INTERVIEW_SCHEDULED,
    (S.INTERVIEW_SCHEDULED, Action.SCHEDULE_INTERVIEW, Actor.AGENCY): S.INTERVIEW_SCHEDULED,
    (S.SENT, Action.DECLINE, Actor.AGENCY): S.DECLINED,
    (S.ACKNOWLEDGED, Action.DECLINE, Actor.AGENCY): S.DECLINED,
    (S.ACCEPTED, Action.DECLINE, Actor.AGENCY): S.DECLINED,
    (S.INTERVIEW_SCHEDULED, Action.DECLINE, Actor.AGENCY): S.DECLINED,
    (S.ACCEPTED, Action.START_PLACEMENT, Actor.AGENCY): S.PLACED,
    (S.INTERVIEW_SCHEDULED, Action.START_PLACEMENT, Actor.AGENCY): S.PLACED,
    (S.PLACED, Action.END_PLACEMENT, Actor.AGENCY): S.CLOSED,
    (S.SENT, Action.WITHDRAW, Actor.COUNSELLOR): S.WITHDRAWN,
    (S.ACKNOWLEDGED, Action.WITHDRAW, Actor.COUNSELLOR): S.WITHDRAWN,
    (S.ACCEPTED, Action.WITHDRAW, Actor.COUNSELLOR): S.WITHDRAWN,
    (S.INTERVIEW_SCHEDULED, Action.WITHDRAW, Actor.COUNSELLOR): S.WITHDRAWN,
    (S.SENT, Action.EXPIRE, Actor.SYSTEM): S.EXPIRED,
    (S.ACKNOWLEDGED, Action.EXPIRE, Actor.SYSTEM): S.EXPIRED,
}

ALL_CASES = list(itertools.product([None, *S], Action, Actor))


@pytest.mark.parametrize(("state", "action", "actor"), ALL_CASES)
def test_every_state_action_actor_combination(
    state: S | None, action: Action, actor: Actor
) -> None:
    expected = EXPECTED.get((state, action, actor))
    if expected is None:
        with pytest.raises(TransitionNotAllowed):
            apply(state, action, actor)
    else:
        assert apply(state, action, actor) is expected


def test_no_transition_leaves_a_final_state() -> None:
    for transition in TRANSITIONS.values():
        assert not (transition.sources & FINAL_STATUSES)


def test_refusal_says_why() -> None:
    with pytest.raises(TransitionNotAllowed, match="cannot accept a referral in state declined"):
        apply(S.DECLINED, Action.ACCEPT, Actor.AGENCY)
    with pytest.raises(TransitionNotAllowed, match="counsellor may not accept"):
        apply(S.SENT, Action.ACCEPT, Actor.COUNSELLOR)


def test_every_status_has_a_french_label() -> None:
    assert S.INTERVIEW_SCHEDULED.label == "Entretien programmé"
    assert all(status.label for status in S)

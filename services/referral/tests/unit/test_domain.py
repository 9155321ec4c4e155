"""The referral transition table, checked exhaustively (every state × action × actor), and the
lifecycle's invariants over random sequences of events (hypothesis)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral.domain import (
    FINAL_STATUSES,
    TRANSITIONS,
    Action,
    Actor,
    LoggedSchemeEvent,
    LoggedTransition,
    PriorityPublic,
    ReferralStatus,
    TransitionNotAllowed,
    apply,
    build_timeline,
    is_durable_placement,
    priority_publics,
    transition_label,
)
from shared.contracts.vocabulary import ContractType

S = ReferralStatus

# The expected outcomes, written out independently of the table under test.
EXPECTED: dict[tuple[S | None, Action, Actor], S] = {
    (None, Action.SEND, Actor.COUNSELLOR): S.SENT,
    (S.SENT, Action.ACKNOWLEDGE, Actor.AGENCY): S.ACKNOWLEDGED,
    (S.TRANSFERRED, Action.ACKNOWLEDGE, Actor.AGENCY): S.ACKNOWLEDGED,
    (S.SENT, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.ACKNOWLEDGED, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.POSTPONED, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.POOL, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.PRIOR_TO_HIRE, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.TRANSFERRED, Action.ACCEPT, Actor.AGENCY): S.ACCEPTED,
    (S.PLACED, Action.END_PLACEMENT, Actor.AGENCY): S.CLOSED,
    (S.PLACED, Action.EXTEND_PLACEMENT, Actor.AGENCY): S.PLACED,
    (S.PLACED, Action.CANCEL_HIRE, Actor.AGENCY): S.HIRE_CANCELLED,
    (S.PLACED, Action.ASK_FOLLOW_UP, Actor.SYSTEM): S.PLACED,
    (S.PLACED, Action.RECORD_FOLLOW_UP, Actor.AGENCY): S.PLACED,
    (S.DECLINED, Action.REOPEN, Actor.AGENCY): S.ACKNOWLEDGED,
    (S.SENT, Action.EXPIRE, Actor.SYSTEM): S.EXPIRED,
    (S.ACKNOWLEDGED, Action.EXPIRE, Actor.SYSTEM): S.EXPIRED,
    (S.TRANSFERRED, Action.EXPIRE, Actor.SYSTEM): S.EXPIRED,
    (S.ACCEPTED, Action.REMIND_STALE, Actor.SYSTEM): S.ACCEPTED,
    (S.INTERVIEW_SCHEDULED, Action.REMIND_STALE, Actor.SYSTEM): S.INTERVIEW_SCHEDULED,
    (S.ACCEPTED, Action.CLOSE_NO_NEWS, Actor.SYSTEM): S.NO_NEWS,
    (S.INTERVIEW_SCHEDULED, Action.CLOSE_NO_NEWS, Actor.SYSTEM): S.NO_NEWS,
}

# Every state before a hire, written out: the agency answers from each, the counsellor
# withdraws, a hire elsewhere makes it obsolete.
BEFORE_HIRE = [
    S.SENT,
    S.ACKNOWLEDGED,
    S.ACCEPTED,
    S.INTERVIEW_SCHEDULED,
    S.POSTPONED,
    S.POOL,
    S.PRIOR_TO_HIRE,
    S.TRANSFERRED,
]
for _state in BEFORE_HIRE:
    EXPECTED[(_state, Action.SCHEDULE_INTERVIEW, Actor.AGENCY)] = S.INTERVIEW_SCHEDULED
    EXPECTED[(_state, Action.DECLINE, Actor.AGENCY)] = S.DECLINED
    # An immersion request is logged but leaves the state as it is.
    EXPECTED[(_state, Action.REQUEST_IMMERSION, Actor.AGENCY)] = _state
    EXPECTED[(_state, Action.ADD_TO_POOL, Actor.AGENCY)] = S.POOL
    EXPECTED[(_state, Action.WITHDRAW, Actor.COUNSELLOR)] = S.WITHDRAWN
    EXPECTED[(_state, Action.MAKE_OBSOLETE, Actor.SYSTEM)] = S.OBSOLETE
    if _state is not S.PRIOR_TO_HIRE:  # in the middle of a scheme: neither put off nor handed on
        EXPECTED[(_state, Action.POSTPONE, Actor.AGENCY)] = S.POSTPONED
        EXPECTED[(_state, Action.TRANSFER, Actor.AGENCY)] = S.TRANSFERRED
        EXPECTED[(_state, Action.START_PRIOR_TO_HIRE, Actor.AGENCY)] = S.PRIOR_TO_HIRE
    if _state not in (S.SENT, S.TRANSFERRED):  # hired once the agency has read it
        EXPECTED[(_state, Action.START_PLACEMENT, Actor.AGENCY)] = S.PLACED
    # A local action's attendance, noted by the organising counsellor (issue 16): logged on the
    # timeline; an interview obtained there schedules it, a candidate retained is accepted —
    # except in the middle of a scheme before hiring, which keeps its state.
    EXPECTED[(_state, Action.RECORD_ATTENDANCE, Actor.COUNSELLOR)] = _state
    if _state is not S.PRIOR_TO_HIRE:
        EXPECTED[(_state, Action.LOCAL_ACTION_INTERVIEW, Actor.COUNSELLOR)] = S.INTERVIEW_SCHEDULED
        EXPECTED[(_state, Action.LOCAL_ACTION_HIRE, Actor.COUNSELLOR)] = S.ACCEPTED
# Attendance is noted on a placed referral too (the hire stays as it is).
EXPECTED[(S.PLACED, Action.RECORD_ATTENDANCE, Actor.COUNSELLOR)] = S.PLACED

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


def test_the_table_has_as_many_allowed_cases_as_the_expected_outcomes() -> None:
    allowed = []
    for state, action, actor in ALL_CASES:
        try:
            apply(state, action, actor)
        except TransitionNotAllowed:
            continue
        allowed.append((state, action, actor))
    assert sorted(map(str, allowed)) == sorted(map(str, EXPECTED))


def test_no_transition_leaves_a_final_state() -> None:
    for transition in TRANSITIONS.values():
        assert not (transition.sources & FINAL_STATUSES)


def test_every_action_has_a_french_label() -> None:
    assert all(action.label for action in Action)
    assert Action.DECLINE.label == "Orientation déclinée par l'agence"


def test_refusal_says_why() -> None:
    # In French, with the labels the partners' staff know (issue 12, item 7).
    with pytest.raises(
        TransitionNotAllowed,
        match=re.escape(
            "« Candidature acceptée par l'agence » (accept) impossible : l'orientation est"
            " « Déclinée » (declined). Possible seulement depuis : "
        ),
    ):
        apply(S.DECLINED, Action.ACCEPT, Actor.AGENCY)
    with pytest.raises(
        TransitionNotAllowed, match="action réservée à l'agence, pas au conseiller France Travail"
    ):
        apply(S.SENT, Action.ACCEPT, Actor.COUNSELLOR)


def test_every_status_has_a_french_label() -> None:
    assert S.INTERVIEW_SCHEDULED.label == "Entretien programmé"
    assert all(status.label for status in S)


# -- invariants over random sequences ------------------------------------------------------------

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.sampled_from(list(Action)),
        st.sampled_from(list(Actor)),
        # Reported times jitter: an agency's clock may be behind ours.
        st.integers(min_value=-3600, max_value=86400),
    ),
    max_size=25,
)
scheme_events = st.lists(st.integers(min_value=-86400, max_value=40 * 86400), max_size=8)


def _run(sequence: list[tuple[Action, Actor, int]]) -> tuple[list[LoggedTransition], S]:
    """Apply a random sequence to a sent referral, keeping only what the table allows."""
    state = apply(None, Action.SEND, Actor.COUNSELLOR)
    log = [LoggedTransition(T0, "send", {"from": None, "to": state, "n": 0})]
    clock = T0
    for n, (action, actor, jitter) in enumerate(sequence, start=1):
        clock += timedelta(seconds=abs(jitter) + 1)
        was_final = state.is_final
        try:
            target = apply(state, action, actor)
        except TransitionNotAllowed:
            continue
        assert not was_final, f"{action} left final state {state}"
        log.append(
            LoggedTransition(
                clock + timedelta(seconds=min(jitter, 0)),
                action.value,
                {"from": state, "to": target, "n": n},
            )
        )
        state = target
    return log, state


@settings(max_examples=300, deadline=None)
@given(steps)
def test_no_event_moves_a_referral_out_of_a_final_state(
    sequence: list[tuple[Action, Actor, int]],
) -> None:
    log, state = _run(sequence)
    finals = [i for i, entry in enumerate(log) if entry.payload["to"].is_final]
    # At most one final state is reached, and it is the last entry of the log.
    assert finals in ([], [len(log) - 1])
    if state.is_final:
        for action, actor in itertools.product(Action, Actor):
            with pytest.raises(TransitionNotAllowed):
                apply(state, action, actor)


@settings(max_examples=300, deadline=None)
@given(steps, scheme_events)
def test_timeline_is_ordered_and_complete(
    sequence: list[tuple[Action, Actor, int]], offsets: list[int]
) -> None:
    log, _ = _run(sequence)
    events = [
        LoggedSchemeEvent(T0 + timedelta(seconds=o), "scheme", {"i": i})
        for i, o in enumerate(offsets)
    ]
    timeline = build_timeline(log, events)

    # Ordered: by the time each entry is placed at, never going back.
    keys = [entry.sort_at for entry in timeline]
    assert keys == sorted(keys)
    # Complete: every transition, in the order it was applied, and every scheme event.
    transitions = [e.payload for e in timeline if e.kind == "transition"]
    assert transitions == [entry.payload for entry in log]
    assert sorted(e.payload["i"] for e in timeline if e.kind == "scheme_event") == list(
        range(len(events))
    )
    # The lifecycle reads as a chain: each transition starts where the previous one ended.
    for before, after in itertools.pairwise(transitions):
        assert after["from"] is before["to"]
    # A scheme event shows when it happened, not when we learned of it.
    for entry in timeline:
        if entry.kind == "scheme_event":
            assert entry.sort_at == entry.occurred_at


# -- other rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        (date(2000, 3, 5), {PriorityPublic.JEUNE}),  # 25 the day before their birthday
        (date(2000, 3, 4), set()),  # 26 on the day
        (date(1976, 3, 5), set()),  # 49
        (date(1976, 3, 4), {PriorityPublic.SENIOR}),  # 50 on the day
    ],
)
def test_jeune_and_senior_are_computed_from_the_birth_date(
    birth: date, expected: set[PriorityPublic]
) -> None:
    publics = priority_publics(
        birth_date=birth,
        on=date(2026, 3, 4),
        rqth=False,
        brsa=False,
        deld=False,
        qpv=False,
        senior_age=50,
    )
    assert publics == expected


def test_senior_threshold_is_a_setting_and_flags_add_up() -> None:
    publics = priority_publics(
        birth_date=date(1973, 1, 1),
        on=date(2026, 3, 4),
        rqth=True,
        brsa=True,
        deld=True,
        qpv=True,
        senior_age=55,
    )
    assert publics == {
        PriorityPublic.RQTH,
        PriorityPublic.BRSA,
        PriorityPublic.DELD,
        PriorityPublic.QPV,
    }


@pytest.mark.parametrize(
    ("contract", "start", "end", "durable"),
    [
        (ContractType.CDI, date(2026, 1, 1), None, True),
        (ContractType.CDI_INTERIMAIRE, date(2026, 1, 1), None, True),
        (ContractType.CDD, date(2026, 1, 15), date(2026, 7, 15), True),
        # By the calendar, both days included (issue 12): 15 January to 14 July is 6 months.
        (ContractType.CDD, date(2026, 1, 15), date(2026, 7, 14), True),
        (ContractType.CDD, date(2026, 1, 15), date(2026, 7, 13), False),
        (ContractType.CDD, date(2026, 1, 1), date(2026, 6, 30), True),  # issue 12's example
        (ContractType.CDD, date(2026, 1, 1), date(2026, 6, 29), False),
        (ContractType.MISSION, date(2026, 8, 31), date(2027, 2, 27), True),  # 28 Feb + 1 day
        (ContractType.MISSION, date(2026, 1, 1), date(2026, 9, 30), True),
        (ContractType.MISSION, date(2026, 1, 1), None, False),  # no end known: not counted
        (None, None, None, False),
    ],
)
def test_durable_placement_is_a_cdi_or_six_months_or_more(
    contract: ContractType | None, start: date | None, end: date | None, durable: bool
) -> None:
    assert is_durable_placement(contract, start, end, min_months=6) is durable


@pytest.mark.parametrize(
    ("action", "details", "label"),
    [
        (
            Action.POSTPONE,
            {"come_back_on": "2026-12-15"},
            "Orientation mise en attente par l'agence (jusqu'au 15/12/2026)",
        ),
        (
            Action.ADD_TO_POOL,
            {"rome_codes": ["H2913", "N1103"]},
            "Candidat inscrit dans le vivier de l'agence (métiers : H2913, N1103)",
        ),
        (
            Action.START_PRIOR_TO_HIRE,
            {"prior_action": "poei"},
            "Action préalable à l'embauche engagée"
            " (Préparation opérationnelle à l'emploi individuelle (POEI))",
        ),
        (
            Action.TRANSFER,
            {"to_agency_id": "agc-interim-nord-arras"},
            "Orientation transférée à une autre agence du réseau"
            " (vers l'agence agc-interim-nord-arras)",
        ),
        (
            Action.RECORD_FOLLOW_UP,
            {"milestone_months": 6, "still_employed": True},
            "Suivi du placement : réponse de l'agence (à 6 mois, toujours en poste)",
        ),
        (Action.ASK_FOLLOW_UP, {"milestone_months": 3}, Action.ASK_FOLLOW_UP.label + " (à 3 mois)"),
        (Action.MAKE_OBSOLETE, None, "Orientation sans objet : candidat embauché ailleurs"),
        (Action.POSTPONE, {"come_back_on": "pas une date"}, Action.POSTPONE.label),
    ],
)
def test_the_timeline_says_what_the_answer_said(
    action: Action, details: dict[str, object] | None, label: str
) -> None:
    assert transition_label(action.value, details) == label

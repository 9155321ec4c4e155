"""The mechanisms every service's domain uses: transition tables and domain errors (no I/O)."""

from __future__ import annotations

import enum

import pytest

from shared import referentials
from shared.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RulesBroken,
    TransitionRefused,
    Violation,
    raise_if_any,
)
from shared.domain.transitions import Transition, TransitionTable


class Door(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LOCKED = "locked"


DOOR = TransitionTable(
    "porte",
    [
        Transition("build", frozenset({None}), Door.CLOSED, frozenset({"carpenter"})),
        Transition("open", frozenset({Door.CLOSED}), Door.OPEN, frozenset({"guest", "owner"})),
        Transition("close", frozenset({Door.OPEN}), Door.CLOSED, frozenset({"guest", "owner"})),
        Transition(
            "lock",
            frozenset({Door.CLOSED}),
            Door.LOCKED,
            frozenset({"owner"}),
            justification_required=True,
        ),
    ],
)


def test_allowed_transition_gives_its_target() -> None:
    assert DOOR.check("open", Door.CLOSED, "guest").target is Door.OPEN
    assert DOOR.check("build", None, "carpenter").target is Door.CLOSED


def test_transition_from_wrong_status_is_refused_in_french() -> None:
    with pytest.raises(TransitionRefused) as refused:
        DOOR.check("open", Door.LOCKED, "owner")
    assert "impossible depuis le statut « locked »" in refused.value.message
    assert refused.value.code == "transition-not-allowed"
    assert isinstance(refused.value, Conflict)


def test_transition_by_wrong_actor_is_refused() -> None:
    with pytest.raises(TransitionRefused) as refused:
        DOOR.check("lock", Door.CLOSED, "guest", justification="départ")
    assert refused.value.code == "actor-not-allowed"


def test_unknown_action_and_missing_justification_are_refused() -> None:
    with pytest.raises(TransitionRefused) as unknown:
        DOOR.check("smash", Door.CLOSED, "owner")
    assert unknown.value.code == "unknown-action"
    with pytest.raises(TransitionRefused) as bare:
        DOOR.check("lock", Door.CLOSED, "owner", justification="  ")
    assert bare.value.code == "justification-required"
    assert DOOR.check("lock", Door.CLOSED, "owner", justification="vacances").target is Door.LOCKED


def test_allowed_lists_what_an_actor_may_do_from_a_status() -> None:
    assert {t.action for t in DOOR.allowed(Door.CLOSED)} == {"open", "lock"}
    assert {t.action for t in DOOR.allowed(Door.CLOSED, "guest")} == {"open"}
    assert DOOR.allowed(Door.LOCKED) == []


def test_one_action_cannot_be_declared_twice_from_one_status() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        TransitionTable(
            "double",
            [
                Transition("open", frozenset({Door.CLOSED}), Door.OPEN, frozenset({"a"})),
                Transition("open", frozenset({Door.CLOSED}), Door.LOCKED, frozenset({"a"})),
            ],
        )


def test_table_keyed_by_target_uses_the_target_as_action() -> None:
    table = TransitionTable.by_target(
        "porte",
        {Door.OPEN: ([Door.CLOSED], ["guest"]), Door.LOCKED: ([Door.CLOSED], ["owner"])},
        justification_required=[Door.LOCKED],
    )
    assert table.check("open", Door.CLOSED, "guest").target is Door.OPEN
    assert table.find("locked", Door.CLOSED) is not None
    with pytest.raises(TransitionRefused):
        table.check("locked", Door.CLOSED, "owner")


def test_rules_broken_carries_articles_and_fields() -> None:
    with pytest.raises(RulesBroken) as broken:
        raise_if_any(
            [
                Violation(
                    "pmsmp.duration", "end_date", "Trop long", "Code du travail, art. D5135-3"
                ),
                Violation("pmsmp.hours", "weekly_hours", "Trop d'heures"),
            ]
        )
    error = broken.value
    assert isinstance(error, InvalidInput)
    assert error.code == "rule-violation"
    assert error.articles == ["Code du travail, art. D5135-3"]
    assert [issue.field for issue in error.errors] == ["end_date", "weekly_hours"]
    assert error.extra["article"] == "Code du travail, art. D5135-3"
    raise_if_any([])  # nothing broken: nothing raised


def test_plain_domain_errors_keep_their_code_and_message() -> None:
    error = NotFound("Orientation introuvable.")
    assert (error.code, error.message, error.title) == (
        "not-found",
        "Orientation introuvable.",
        "Ressource introuvable",
    )


def test_referentials_know_departements_regions_and_rome_codes() -> None:
    assert referentials.departement("59").region_name == "Hauts-de-France"  # type: ignore[union-attr]
    assert referentials.region_of("2A") == "94"
    assert referentials.region_of("00") is None
    assert len(referentials.rome_metiers()) == 1584
    assert referentials.is_rome_code("H2913")
    assert not referentials.is_rome_code("H9999")  # the right pattern, but no such métier
    assert referentials.rome_sectors("A1101")[0].label.startswith("Culture et production")

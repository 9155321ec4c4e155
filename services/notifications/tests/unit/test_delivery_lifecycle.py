"""The delivery lifecycle as data: what each move allows, and the one function refusing the rest."""

from __future__ import annotations

import pytest

from notifications.domain.delivery import (
    DELIVERY_LIFECYCLE,
    OUTCOME_ACTIONS,
    AttemptOutcome,
    DeliveryAction,
    DeliveryActor,
    DeliveryStatus,
    check_transition,
    first_move,
)
from shared.domain.errors import Conflict, TransitionRefused


def test_every_action_is_in_the_table_and_every_status_is_reachable() -> None:
    assert DELIVERY_LIFECYCLE.actions == {action.value for action in DeliveryAction}
    targets = {row.target for row in DELIVERY_LIFECYCLE.transitions}
    assert targets == set(DeliveryStatus)


@pytest.mark.parametrize("current", [DeliveryStatus.FAILED, DeliveryStatus.SKIPPED])
def test_ops_retry_a_failed_or_skipped_delivery(current: DeliveryStatus) -> None:
    move = check_transition(DeliveryAction.RETRY, current.value, DeliveryActor.OPS)
    assert move.target is DeliveryStatus.PENDING


@pytest.mark.parametrize("current", [DeliveryStatus.PENDING, DeliveryStatus.DELIVERED])
def test_a_pending_or_delivered_delivery_is_not_retryable(current: DeliveryStatus) -> None:
    with pytest.raises(Conflict) as refused:
        check_transition(DeliveryAction.RETRY, current.value, DeliveryActor.OPS)
    assert refused.value.code == "delivery-not-retryable"
    assert f"(statut : {current.value})" in refused.value.message


def test_only_the_platform_sends_and_only_ops_retry() -> None:
    with pytest.raises(TransitionRefused, match="ne peut pas"):
        check_transition(DeliveryAction.DELIVER, "pending", DeliveryActor.OPS)
    with pytest.raises(TransitionRefused, match="ne peut pas"):
        check_transition(DeliveryAction.RETRY, "failed", DeliveryActor.SYSTEM)


def test_a_finished_delivery_cannot_be_sent_again() -> None:
    for current in ("delivered", "failed", "skipped"):
        for outcome in AttemptOutcome:
            with pytest.raises(TransitionRefused):
                check_transition(OUTCOME_ACTIONS[outcome], current, DeliveryActor.SYSTEM)


def test_a_new_delivery_is_pending_unless_it_has_no_address_or_is_opted_out() -> None:
    assert first_move("a@b.example", required=False, opted_out=False) == (
        DeliveryAction.RECORD,
        None,
    )
    action, reason = first_move(None, required=True, opted_out=False)
    assert action is DeliveryAction.SKIP
    assert reason is not None
    assert reason.startswith("no_address")
    action, reason = first_move("a@b.example", required=False, opted_out=True)
    assert action is DeliveryAction.SKIP
    assert reason is not None
    assert reason.startswith("opted_out")
    assert first_move("a@b.example", required=True, opted_out=True)[0] is DeliveryAction.RECORD

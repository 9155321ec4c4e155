"""An agency's answer about a referral addressed to it (acknowledged, accepted, declined,
interview scheduled, immersion requested, placement started or ended), applied through the
transition table — or refused, with the reason, leaving no trace but the dead letter's audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import ANSWER_ACTIONS, Action, Actor, ReferralStatus, TransitionNotAllowed
from referral.domain import apply as apply_transition
from referral.models import Agency, Referral
from referral.use_cases.common import Logged, locked_referral, log_transition, publish, routing
from referral.use_cases.networks import FORBIDDEN
from shared.contracts import agency as answers
from shared.contracts.base import EventData
from shared.contracts.referral import (
    ReferralClosed,
    ReferralImmersionRequested,
    ReferralStatusChanged,
)
from shared.messaging.consumer import PermanentError

#: Which action each agency answer asks for.
ANSWER_ACTION: dict[type[answers.AgencyResponse], Action] = {
    answers.ReferralAcknowledged: Action.ACKNOWLEDGE,
    answers.ReferralAccepted: Action.ACCEPT,
    answers.ReferralDeclined: Action.DECLINE,
    answers.InterviewScheduled: Action.SCHEDULE_INTERVIEW,
    answers.ImmersionRequested: Action.REQUEST_IMMERSION,
    answers.PlacementStarted: Action.START_PLACEMENT,
    answers.PlacementEnded: Action.END_PLACEMENT,
}

_COMMON_ANSWER_FIELDS = frozenset({"referral_id", "agency_id", "occurred_at", "comment"})


async def apply_agency_response(
    session: AsyncSession,
    response: answers.AgencyResponse,
    *,
    network_id: str | None,
    event_id: str,
    source: str,
) -> Referral:
    """Apply an agency's answer, or raise :class:`PermanentError` (dead-letter) saying why.

    ``network_id`` is the network whose response topic carried the answer: an answer is applied
    only to a referral addressed to that network, naming one of that network's agencies (the
    networks are competitors). Nothing is written before every check has passed, so a refused
    answer leaves no trace but the audit record of the dead letter."""
    action = ANSWER_ACTION[type(response)]
    referral = await _addressed_referral(session, response, network_id)
    current = ReferralStatus(referral.status)
    try:
        target = apply_transition(current, action, Actor.AGENCY)
    except TransitionNotAllowed as exc:
        raise PermanentError(str(exc), details={**_facts(response), "kind": "not_allowed"}) from exc

    details = response.model_dump(mode="json", exclude=set(_COMMON_ANSWER_FIELDS))
    occurred_at = response.occurred_at
    if action in ANSWER_ACTIONS and referral.first_answer_at is None:
        referral.first_answer_at = occurred_at
    reason = _apply_fields(referral, response)
    session.add(
        log_transition(
            referral,
            current,
            target,
            Logged(
                action,
                Actor.AGENCY,
                response.agency_id,
                occurred_at,
                comment=response.comment,
                reason=reason,
                details=details,
                event_id=event_id,
            ),
        )
    )
    event = _event_for(referral, response, current, target, details)
    await publish(session, event, referral, source, occurred_at)
    return referral


def _facts(response: answers.AgencyResponse) -> dict[str, str]:
    return {"referral_id": str(response.referral_id), "agency_id": response.agency_id}


async def _addressed_referral(
    session: AsyncSession, response: answers.AgencyResponse, network_id: str | None
) -> Referral:
    """The referral the answer is about, locked, if the answer may apply to it: received on a
    network's topic, about a referral addressed to that network and to the answering agency."""
    facts = _facts(response)
    if network_id is None:
        raise PermanentError(
            "answer not received on an agency network's response topic",
            details={**facts, "kind": FORBIDDEN},
        )
    referral = await locked_referral(session, response.referral_id)
    if referral is None:
        raise PermanentError(
            f"unknown referral {response.referral_id}", details={**facts, "kind": "unknown"}
        )
    if referral.network_id != network_id:
        raise PermanentError(
            f"referral {response.referral_id} is not addressed to network {network_id}",
            details={**facts, "kind": FORBIDDEN},
        )
    agency = await session.get(Agency, response.agency_id)
    if agency is None or agency.network_id != network_id:
        raise PermanentError(
            f"agency {response.agency_id} does not belong to network {network_id}",
            details={**facts, "kind": FORBIDDEN},
        )
    if referral.agency_id != response.agency_id:
        raise PermanentError(
            f"referral {response.referral_id} is not addressed to agency {response.agency_id}",
            details={**facts, "kind": "wrong_agency"},
        )
    return referral


def _apply_fields(referral: Referral, response: answers.AgencyResponse) -> str | None:
    """Keep the answer's facts on the referral row; return the reason the log records."""
    occurred_at = response.occurred_at
    if isinstance(response, answers.ReferralAccepted):
        referral.accepted_at = occurred_at
    elif isinstance(response, answers.ReferralDeclined):
        referral.declined_at = occurred_at
        referral.decline_reason = response.reason.value
        return response.reason.value
    elif isinstance(response, answers.PlacementStarted):
        referral.placed_at = occurred_at
        referral.placement_contract_type = response.contract_type.value
        referral.placement_start_date = response.start_date
        referral.placement_expected_end_date = response.expected_end_date
        referral.placement_weekly_hours = response.weekly_hours
    elif isinstance(response, answers.PlacementEnded):
        referral.placement_end_date = response.end_date
        return response.reason
    return None


def _event_for(
    referral: Referral,
    response: answers.AgencyResponse,
    current: ReferralStatus,
    target: ReferralStatus,
    details: dict[str, Any],
) -> EventData:
    """What ``referral.events`` learns of an applied answer."""
    routed = routing(referral)
    if isinstance(response, answers.ImmersionRequested):
        # Checked above: the referral is addressed to this agency and still in progress.
        return ReferralImmersionRequested(
            **routed,
            job_seeker_id=referral.job_seeker_id,
            rome_code=referral.rome_code,
            objet=response.objet,
            start_date=response.start_date,
            end_date=response.end_date,
            weekly_hours=response.weekly_hours,
            host_name=response.host_name,
            host_siret=response.host_siret,
            host_address=response.host_address,
            tutor_name=response.tutor_name,
            tutor_function=response.tutor_function,
            tutor_email=response.tutor_email,
            objectives=response.objectives,
            tasks=response.tasks,
            requested_at=response.occurred_at,
        )
    if isinstance(response, answers.PlacementEnded):
        return ReferralClosed(
            **routed, closed_at=response.occurred_at, placement_end_date=response.end_date
        )
    return ReferralStatusChanged(
        **routed,
        from_status=current.value,
        to_status=target.value,
        action=ANSWER_ACTION[type(response)].value,
        decline_reason=response.reason if isinstance(response, answers.ReferralDeclined) else None,
        contract_type=(
            response.contract_type if isinstance(response, answers.PlacementStarted) else None
        ),
        placement_start_date=(
            response.start_date if isinstance(response, answers.PlacementStarted) else None
        ),
        placement_end_date=(
            response.expected_end_date if isinstance(response, answers.PlacementStarted) else None
        ),
        details=details,
        occurred_at=response.occurred_at,
    )

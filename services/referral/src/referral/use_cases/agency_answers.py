"""An agency's answer about a referral addressed to it (acknowledged, accepted, declined,
interview scheduled, immersion requested, placement started or ended), applied through the
transition table — or refused, with the reason, leaving no trace but the dead letter's audit.

What each answer type does (its action, the referral facts it records, the event it produces) is
declared once, in :data:`shared.contracts.agency.ANSWER_TYPES`.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import ANSWER_ACTIONS, Actor, ReferralStatus, TransitionNotAllowed, transition
from referral.models import Agency, Referral
from referral.use_cases.common import Logged, locked_referral, move, publish, routing
from referral.use_cases.networks import FORBIDDEN
from shared.contracts.agency import ANSWER_TYPE_OF, AgencyResponse, AnswerType
from shared.contracts.base import EventData
from shared.contracts.referral import ReferralImmersionRequested, ReferralStatusChanged
from shared.messaging.consumer import PermanentError

_COMMON_ANSWER_FIELDS = frozenset({"referral_id", "agency_id", "occurred_at", "comment"})


async def apply_agency_response(
    session: AsyncSession,
    response: AgencyResponse,
    *,
    network_id: str | None,
    event_id: str,
    received_at: datetime,
    max_clock_skew: timedelta | None = None,
) -> Referral:
    """Apply an agency's answer, or raise :class:`PermanentError` (dead-letter) saying why.

    ``network_id`` is the network whose response topic carried the answer: an answer is applied
    only to a referral addressed to that network, naming one of that network's agencies (the
    networks are competitors). Nothing is written before every check has passed, so a refused
    answer leaves no trace but the audit record of the dead letter.

    The refusals stay :class:`PermanentError` with English texts: the partners' integrations
    read them in the dead letters' ``dlq_error`` (and the audit counts their ``kind``).

    ``received_at`` is when the platform received the answer (the broker record's timestamp):
    an ``occurred_at`` more than ``max_clock_skew`` away from it is refused (an agency clock
    wrong, or an answer dated to move an indicator), and the referral's facts that feed the
    indicators (first answer, acceptance, decline, placement) take ``received_at``, not the
    agency's own time; the timeline keeps the agency's time."""
    answer_type = ANSWER_TYPE_OF[type(response)]
    if max_clock_skew is not None and abs(response.occurred_at - received_at) > max_clock_skew:
        hours = max_clock_skew.total_seconds() / 3600
        raise PermanentError(
            f"occurred_at {response.occurred_at.isoformat()} is more than {hours:g} h away from"
            f" when the platform received the answer ({received_at.isoformat()}): check the"
            " agency's clock and time zone",
            details={**_facts(response), "kind": "clock_skew"},
        )
    referral = await _addressed_referral(session, response, network_id)
    current = ReferralStatus(referral.status)
    try:
        row = transition(current, answer_type.action, Actor.AGENCY)
    except TransitionNotAllowed as exc:
        raise PermanentError(str(exc), details={**_facts(response), "kind": "not_allowed"}) from exc

    details = response.model_dump(mode="json", exclude=set(_COMMON_ANSWER_FIELDS))
    occurred_at = response.occurred_at
    if answer_type.action in ANSWER_ACTIONS and referral.first_answer_at is None:
        referral.first_answer_at = received_at
    for fact, answer_field in answer_type.applies.items():
        value = received_at if answer_field == "occurred_at" else getattr(response, answer_field)
        setattr(referral, fact, _plain(value))
    reason = getattr(response, answer_type.reason_field) if answer_type.reason_field else None
    entry = Logged(
        answer_type.action,
        Actor.AGENCY,
        response.agency_id,
        occurred_at,
        comment=response.comment,
        reason=_plain(reason),
        details=details,
        event_id=event_id,
    )
    target = move(session, referral, row, entry, current=current)
    event = _event_for(answer_type, referral, response, current, target, details)
    await publish(session, event, referral, occurred_at)
    return referral


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _facts(response: AgencyResponse) -> dict[str, str]:
    return {"referral_id": str(response.referral_id), "agency_id": response.agency_id}


async def _addressed_referral(
    session: AsyncSession, response: AgencyResponse, network_id: str | None
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


def _event_for(
    answer_type: AnswerType,
    referral: Referral,
    response: AgencyResponse,
    current: ReferralStatus,
    target: ReferralStatus,
    details: dict[str, Any],
) -> EventData:
    """What ``referral.events`` learns of an applied answer."""
    fields = {name: getattr(response, source) for name, source in answer_type.event_fields.items()}
    if answer_type.produces is ReferralImmersionRequested:
        # Checked above: the referral is addressed to this agency and still in progress.
        fields.update(job_seeker_id=referral.job_seeker_id, rome_code=referral.rome_code)
    elif answer_type.produces is ReferralStatusChanged:
        fields.update(
            from_status=current,
            to_status=target,
            action=answer_type.action,
            details=details,
            occurred_at=response.occurred_at,
            comment=response.comment,
        )
    return answer_type.produces(**routing(referral), **fields)

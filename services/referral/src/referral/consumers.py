"""Consumers of the referral service: agency answers (topic ``agency.responses``)."""

from __future__ import annotations

from referral.domain import Action
from referral.use_cases import apply_agency_response
from shared.contracts.agency import AgencyResponse, ReferralAccepted, ReferralAcknowledged
from shared.contracts.topics import AGENCY_RESPONSES
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

agency_responses = HandlerRegistry()


async def _apply(context: EventContext[AgencyResponse], action: Action) -> None:
    data = context.data
    await apply_agency_response(
        context.session,
        referral_id=data.referral_id,
        agency_id=data.agency_id,
        action=action,
        occurred_at=data.occurred_at,
        comment=data.comment,
        event_id=context.event.id,
    )


@agency_responses.on(ReferralAcknowledged)
async def on_acknowledged(context: EventContext[ReferralAcknowledged]) -> None:
    await _apply(context, Action.ACKNOWLEDGE)  # type: ignore[arg-type]


@agency_responses.on(ReferralAccepted)
async def on_accepted(context: EventContext[ReferralAccepted]) -> None:
    await _apply(context, Action.ACCEPT)  # type: ignore[arg-type]


CONSUMERS = [
    ConsumerSpec(
        name="referral.agency-responses", topics=[AGENCY_RESPONSES], registry=agency_responses
    )
]

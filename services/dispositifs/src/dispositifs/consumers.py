"""Consumers of the dispositifs service: it learns of referrals to link schemes to them."""

from __future__ import annotations

from datetime import UTC, datetime

from dispositifs.models import KnownReferral
from shared.contracts.referral import ReferralSent
from shared.contracts.topics import REFERRAL_EVENTS
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

referral_events = HandlerRegistry()


@referral_events.on(ReferralSent)
async def on_referral_sent(context: EventContext[ReferralSent]) -> None:
    data = context.data
    if await context.session.get(KnownReferral, data.referral_id) is not None:
        return  # the same referral under another event id: nothing new to learn
    context.session.add(
        KnownReferral(
            referral_id=data.referral_id,
            job_seeker_id=data.job_seeker_id,
            agency_id=data.agency_id,
            network_id=data.network_id,
            rome_code=data.rome_code,
            departement=data.departement,
            structure_code=data.structure_code,
            sent_at=data.sent_at,
            recorded_at=datetime.now(UTC),
        )
    )


CONSUMERS = [
    ConsumerSpec(
        name="dispositifs.referral-events", topics=[REFERRAL_EVENTS], registry=referral_events
    )
]

"""Consumers of the dispositifs service (topic ``referral.events``): it learns of referrals to
link schemes to them, turns agencies' immersion requests into convention requests (or answers
``immersion.rejected``), proposes a pathway when a referral is declined for lacking skills, and
closes the loop on outcomes when a placement starts."""

from __future__ import annotations

from datetime import UTC, datetime

from dispositifs.domain.pathway import ProposalTrigger
from dispositifs.models import KnownReferral
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import immersions, outcomes, pathways
from shared.contracts.referral import (
    ReferralClosed,
    ReferralExpired,
    ReferralImmersionRequested,
    ReferralSent,
    ReferralStatusChanged,
    ReferralWithdrawn,
)
from shared.contracts.topics import REFERRAL_EVENTS
from shared.contracts.vocabulary import DeclineReason
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

#: ``to_status`` of ``referral.status_changed`` meaning a placement started.
PLACED = "placed"
DECLINED = "declined"


def referral_event_handlers(settings: DispositifsSettings) -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.on(ReferralSent)
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
                offer_id=data.offer_id,
                status="sent",
            )
        )

    @registry.on(ReferralImmersionRequested)
    async def on_immersion_requested(context: EventContext[ReferralImmersionRequested]) -> None:
        await immersions.receive_agency_request(
            context.session, context.data, settings, event_id=context.event.id
        )

    @registry.on(ReferralStatusChanged)
    async def on_status_changed(context: EventContext[ReferralStatusChanged]) -> None:
        data = context.data
        known = await context.session.get(KnownReferral, data.referral_id)
        if known is not None:
            known.status = data.to_status
        if data.to_status == PLACED:
            placed_on = data.placement_start_date or data.occurred_at.date()
            if known is not None:
                known.placed_on = placed_on
                known.placement_contract_type = (
                    data.contract_type.value if data.contract_type else None
                )
            await outcomes.record_placement(
                context.session,
                data.referral_id,
                placed_on=placed_on,
                contract_type=data.contract_type,
                settings=settings,
            )
        elif (
            data.to_status == DECLINED
            and data.decline_reason is DeclineReason.LACKING_SKILLS
            and known is not None
        ):
            await pathways.propose_for_referral(
                context.session, known, ProposalTrigger.DECLINED_LACKING_SKILLS
            )

    async def _referral_ended(
        context: EventContext[ReferralWithdrawn] | EventContext[ReferralExpired],
        status: str,
        why: str,
    ) -> None:
        known = await context.session.get(KnownReferral, context.data.referral_id)
        if known is not None:
            known.status = status
        await immersions.deprecate_for_referral(
            context.session, context.data.referral_id, why, settings, event_id=context.event.id
        )

    @registry.on(ReferralWithdrawn)
    async def on_withdrawn(context: EventContext[ReferralWithdrawn]) -> None:
        await _referral_ended(
            context, "withdrawn", f"Orientation retirée par le conseiller : {context.data.reason}"
        )

    @registry.on(ReferralExpired)
    async def on_expired(context: EventContext[ReferralExpired]) -> None:
        await _referral_ended(context, "expired", "Orientation expirée sans réponse de l'agence")

    @registry.on(ReferralClosed)
    async def on_closed(context: EventContext[ReferralClosed]) -> None:
        known = await context.session.get(KnownReferral, context.data.referral_id)
        if known is not None:
            known.status = "closed"

    return registry


def consumers(settings: DispositifsSettings) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="dispositifs.referral-events",
            topics=[REFERRAL_EVENTS],
            registry=referral_event_handlers(settings),
        )
    ]

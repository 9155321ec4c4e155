"""Consumers of the dispositifs service (topic ``referral.events``), as one table: event type →
use case. It learns of referrals to link schemes to them, turns agencies' immersion requests into
convention requests (or answers ``immersion.rejected``), proposes a pathway when a referral is
declined for lacking skills, and closes the loop on outcomes when a placement starts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import erasure, immersion_intake, offer_requests, pathways, referrals
from dispositifs.use_cases.referrals import ReferralEnded
from shared.contracts.agency_requests import ReferralTrainingRequested
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.referral import (
    ReferralClosed,
    ReferralExpired,
    ReferralImmersionRequested,
    ReferralSent,
    ReferralStatusChanged,
    ReferralWithdrawn,
)
from shared.contracts.territory import OfferSchemeRequested
from shared.contracts.topics import REFERRAL_EVENTS
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

Handler = Callable[[EventContext[Any]], Awaitable[object]]


def handlers(settings: DispositifsSettings) -> dict[type[Any], Handler]:
    """Each event type consumed, and the use case it runs in the handler's transaction."""
    return {
        ReferralSent: lambda c: referrals.learn_referral(c.session, c.data),
        ReferralImmersionRequested: lambda c: immersion_intake.receive_agency_request(
            c.session, c.data, settings, event_id=c.event.id
        ),
        ReferralTrainingRequested: lambda c: pathways.receive_agency_training_request(
            c.session, c.data
        ),
        ReferralStatusChanged: lambda c: referrals.follow_status(c.session, c.data, settings),
        ReferralWithdrawn: lambda c: referrals.end_referral(
            c.session,
            ReferralEnded(
                c.data.referral_id,
                "withdrawn",
                f"Orientation retirée par le conseiller : {c.data.reason}",
                c.event.id,
            ),
            settings,
        ),
        ReferralExpired: lambda c: referrals.end_referral(
            c.session,
            ReferralEnded(
                c.data.referral_id,
                "expired",
                "Orientation expirée sans réponse de l'agence",
                c.event.id,
            ),
            settings,
        ),
        ReferralClosed: lambda c: referrals.close_referral(c.session, c.data.referral_id),
        JobSeekerErasureRequested: lambda c: erasure.erase_job_seeker(c.session, c.data),
        OfferSchemeRequested: lambda c: offer_requests.receive_offer_scheme_request(
            c.session, c.data
        ),
    }


def referral_event_handlers(settings: DispositifsSettings) -> HandlerRegistry:
    registry = HandlerRegistry()
    for model, handler in handlers(settings).items():
        registry.on(model)(_returning_none(handler))
    return registry


def _returning_none(handler: Handler) -> Callable[[EventContext[Any]], Awaitable[None]]:
    async def run(context: EventContext[Any]) -> None:
        await handler(context)

    return run


def consumers(settings: DispositifsSettings) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="dispositifs.referral-events",
            topics=[REFERRAL_EVENTS],
            registry=referral_event_handlers(settings),
        )
    ]

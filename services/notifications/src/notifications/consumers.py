"""Consumers of the notifications service: referral events become messages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from notifications.models import Notification
from shared.contracts.referral import ReferralSent
from shared.contracts.topics import REFERRAL_EVENTS
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

referral_events = HandlerRegistry()


@referral_events.on(ReferralSent)
async def on_referral_sent(context: EventContext[ReferralSent]) -> None:
    """The agency must know a candidate was referred to it (a required message: no opt-out)."""
    data = context.data
    context.session.add(
        Notification(
            id=uuid.uuid4(),
            event_id=context.event.id,
            event_type=context.event.type,
            recipient_kind="agency",
            recipient_id=data.agency_id,
            channel="inbox",
            subject=f"Nouvelle orientation France Travail (métier {data.rome_code})",
            body=(
                "Un conseiller France Travail vous oriente un candidat pour un poste "
                f"de code ROME {data.rome_code}. Référence de l'orientation : {data.referral_id}."
            ),
            referral_id=data.referral_id,
            created_at=datetime.now(UTC),
        )
    )


CONSUMERS = [
    ConsumerSpec(
        name="notifications.referral-events", topics=[REFERRAL_EVENTS], registry=referral_events
    )
]

"""Agencies' answers to the hard-to-fill offers published on their network's feed (issue 16,
item 5): "we have candidates", or a request for a PMSMP, an MRS or a POEI for that offer.

An answer (``coop.agency.offer_answered.v1`` on ``agency.<network>.responses``) is applied only
when it came on the topic of a network the offer was published to, naming one of that network's
agencies; anything else is refused like a forged referral answer (dead letter, audit in
``refused_responses``, counter). Applied answers are rows of ``offer_answers``: the fact the
indicators count under axis 2 (hard-to-fill offers answered), with the offer's trade, territory
and hard-to-fill source copied onto the row. The processed-events table makes a redelivered
answer a no-op; the answer's event id is unique there too. A request for a PMSMP, an MRS or a
POEI is also staged as ``coop.offer.scheme_requested.v1`` on ``referral.events``: the
dispositifs service opens it for the offer's counsellors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.models import OUTBOX, Agency, JobOffer, OfferAnswer, OfferPublication
from referral.use_cases.common import not_found
from referral.use_cases.networks import FORBIDDEN
from shared.auth.tokens import Principal
from shared.contracts.territory import (
    SCHEME_OF_ANSWER,
    OfferAnswered,
    OfferAnswerKind,
    OfferSchemeRequested,
)
from shared.messaging.consumer import EventContext, HandlerRegistry, PermanentError


async def apply_offer_answer(
    session: AsyncSession,
    answer: OfferAnswered,
    *,
    network_id: str | None,
    event_id: str | None,
) -> OfferAnswer:
    facts = {"offer_id": str(answer.offer_id), "agency_id": answer.agency_id}
    if network_id is None:
        raise PermanentError(
            "Réponse reçue hors du sujet de réponses d'un réseau d'agences"
            " (agency.<réseau>.responses) : publiez-la sur le sujet de votre réseau.",
            details={**facts, "kind": FORBIDDEN},
        )
    offer = await session.get(JobOffer, answer.offer_id)
    if offer is None:
        raise PermanentError(
            f"L'offre {answer.offer_id} est inconnue de la plateforme : vérifiez l'identifiant de"
            " l'offre reçue sur votre flux (hard_to_fill_offer_published).",
            details={**facts, "kind": "unknown"},
        )
    published = await session.get(OfferPublication, (answer.offer_id, network_id))
    if published is None:
        raise PermanentError(
            f"L'offre {answer.offer_id} n'a pas été publiée au réseau {network_id} : seuls les"
            " réseaux qui l'ont reçue sur leur flux peuvent y répondre.",
            details={**facts, "kind": FORBIDDEN},
        )
    agency = await session.get(Agency, answer.agency_id)
    if agency is None or agency.network_id != network_id:
        raise PermanentError(
            f"L'agence {answer.agency_id} n'appartient pas au réseau {network_id} : répondez au"
            " nom d'une agence de votre réseau (identifiant de l'annuaire).",
            details={**facts, "kind": FORBIDDEN},
        )
    if answer.candidates is not None and answer.answer is not OfferAnswerKind.HAS_CANDIDATES:
        raise PermanentError(
            "candidates : ne se renseigne qu'avec la réponse has_candidates (nombre de candidats"
            " proposés).",
            details={**facts, "kind": "invalid"},
        )
    row = OfferAnswer(
        offer_id=offer.id,
        agency_id=agency.id,
        network_id=network_id,
        answer=answer.answer.value,
        candidates=answer.candidates,
        rome_code=offer.rome_code,
        departement=offer.departement,
        region=offer.region,
        hard_to_fill_source=offer.hard_to_fill_source or "",
        answered_at=answer.occurred_at.astimezone(UTC),
        recorded_at=datetime.now(UTC),
        event_id=event_id,
    )
    session.add(row)
    await session.flush()
    scheme = SCHEME_OF_ANSWER.get(answer.answer)
    if scheme is not None:
        # The request flows to the dispositifs service, which opens it for the offer's
        # counsellors (dispositifs' ``use_cases/offer_requests.py``).
        await OUTBOX.stage(
            session,
            OfferSchemeRequested(
                offer_id=offer.id,
                answer_id=row.id,
                scheme=scheme,
                agency_id=agency.id,
                network_id=network_id,
                title=offer.title,
                rome_code=offer.rome_code,
                departement=offer.departement,
                region=offer.region,
                hard_to_fill_source=offer.hard_to_fill_source or "",
                structure_code=offer.structure_code,
                requested_at=row.answered_at,
            ),
            subject=f"offers/{offer.id}",
            occurred_at=row.recorded_at,
        )
    return row


def register_offer_answers(
    registry: HandlerRegistry, network_of: Callable[[str], str | None]
) -> None:
    """The agency-responses consumer's handler of offer answers (one line in ``consumers.py``)."""

    async def on_offer_answer(context: EventContext[OfferAnswered]) -> None:
        await apply_offer_answer(
            context.session,
            context.data,
            network_id=network_of(context.delivery.topic),
            event_id=context.event.id,
        )

    registry.on(OfferAnswered)(on_offer_answer)


async def answers_to_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID
) -> list[OfferAnswer]:
    """The agencies' answers to one offer, oldest first (counsellors and ops: no personal data)."""
    offer = await session.get(JobOffer, offer_id)
    if offer is None or not access.sees_offer(principal, offer):
        raise not_found(f"Offre {offer_id}")
    return list(
        await session.scalars(
            select(OfferAnswer).where(OfferAnswer.offer_id == offer_id).order_by(OfferAnswer.id)
        )
    )

"""Dispositifs events (immersion, MRS, POEI/POEC) about a referral: kept on its timeline for the
indicators, and each told to the referral's agency on its network's feed (issue 12, item 6).

What the agency's feed says of each ``dispositifs.events`` event type is one entry of
:data:`FEED_OF`; ``tests`` check that every dispositifs event type about a referral has one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import Scheme
from referral.models import Referral, ReferralSchemeEvent
from referral.use_cases.common import publish_to_network
from shared.contracts import dispositifs as d
from shared.contracts import scheme_feed as f
from shared.contracts.agency_feed import FeedEvent, ImmersionRequestRejected
from shared.contracts.base import EventData
from shared.messaging.consumer import PermanentError


@dataclass(frozen=True, slots=True)
class SchemeFact:
    """A dispositifs event as the referral's timeline and indicators need it."""

    referral_id: uuid.UUID
    event_id: str
    event_type: str
    scheme: Scheme
    scheme_ref: str
    label: str
    hired: bool | None
    data: dict[str, Any]
    occurred_at: datetime


async def record_scheme_event(session: AsyncSession, fact: SchemeFact) -> bool:
    """Keep a dispositifs event on its referral's timeline. False if it was already there."""
    if await session.get(Referral, fact.referral_id) is None:
        raise PermanentError(f"unknown referral {fact.referral_id}")
    already = await session.scalar(
        select(ReferralSchemeEvent.id).where(ReferralSchemeEvent.event_id == fact.event_id)
    )
    if already is not None:
        return False
    session.add(
        ReferralSchemeEvent(
            referral_id=fact.referral_id,
            event_id=fact.event_id,
            event_type=fact.event_type,
            scheme=fact.scheme.value,
            scheme_ref=fact.scheme_ref,
            label=fact.label,
            hired=fact.hired,
            data=fact.data,
            occurred_at=fact.occurred_at,
            recorded_at=datetime.now(UTC),
        )
    )
    return True


# -- the agency's feed ----------------------------------------------------------------------------

#: The routing fields of a feed event (``referral_id``, ``agency_id``, ``network_id``).
Routing = Mapping[str, Any]
FeedBuilder = Callable[[Any, Routing], FeedEvent]

_STEP_LABELS = {
    "requested": "Convention d'immersion demandée",
    "signature_requested": "Convention d'immersion prête à signer : chaque partie a reçu son lien",
    "signed": "Convention d'immersion signée par les parties, en attente de validation",
    "assessment_requested": "Bilan de l'immersion demandé au tuteur",
    "assessment_shared": "Bilan de l'immersion transmis au bénéficiaire",
    "incident_reported": "Incident signalé pendant l'immersion ; le conseiller France Travail en "
    "est informé",
    "error_reported": "Une partie a signalé une erreur dans la convention ; le conseiller la "
    "corrige, puis les signatures sont redemandées",
}


def _progress(step: str) -> FeedBuilder:
    def build(e: Any, routing: Routing) -> FeedEvent:
        return f.ImmersionProgressForAgency(
            **routing,
            occurred_at=e.occurred_at,
            convention_id=e.convention_id,
            step=step,
            label=_STEP_LABELS[step],
            host_name=getattr(e, "host_name", None),
            start_date=getattr(e, "start_date", None),
            end_date=getattr(e, "end_date", None),
        )

    return build


def _carry(model: type[FeedEvent]) -> FeedBuilder:
    """The feed event ``model`` with the routing, and every other field it declares taken from the
    dispositifs event of the same name: the feed contract alone says what the agency reads."""

    def build(e: Any, routing: Routing) -> FeedEvent:
        fields = {
            name: getattr(e, name)
            for name in model.model_fields
            if name not in routing and hasattr(e, name)
        }
        return model(**routing, **fields)

    return build


#: Each ``dispositifs.events`` event type → what the referral's agency reads of it on its feed.
#: A new dispositifs event type about a referral plugs in here (and its feed contract in
#: ``shared.contracts.scheme_feed``): nothing personal (no party, link, tutor or incident text).
FEED_OF: dict[type[EventData], FeedBuilder] = {
    d.ImmersionConventionRequested: _progress("requested"),
    d.ImmersionSignatureRequested: _progress("signature_requested"),
    d.ImmersionSigned: _progress("signed"),
    d.ImmersionAssessmentRequested: _progress("assessment_requested"),
    d.ImmersionAssessmentShared: _progress("assessment_shared"),
    d.ImmersionIncidentReported: _progress("incident_reported"),
    d.ImmersionErrorReported: _progress("error_reported"),
    d.ImmersionRejected: lambda e, r: ImmersionRequestRejected(
        **r, reason=e.reason, article=e.article, rejected_at=e.occurred_at
    ),
    d.ImmersionValidated: _carry(f.ImmersionValidatedForAgency),
    d.ImmersionCancelled: _carry(f.ImmersionCancelledForAgency),
    d.ImmersionCompleted: _carry(f.ImmersionCompletedForAgency),
    d.MrsEvaluated: _carry(f.MrsEvaluatedForAgency),
    d.TrainingEnrolled: _carry(f.TrainingEnrolledForAgency),
    d.TrainingCompleted: _carry(f.TrainingCompletedForAgency),
}


async def tell_network(session: AsyncSession, data: EventData) -> FeedEvent | None:
    """Stage, on the feed of the referral's network, what its agency reads of ``data`` (a
    dispositifs event about the referral); None when the event type has nothing for the feed.
    An unknown referral is a permanent error (dead letter)."""
    build = FEED_OF.get(type(data))
    if build is None:
        return None
    referral_id = data.referral_id  # type: ignore[attr-defined]
    referral = await session.get(Referral, referral_id)
    if referral is None:
        raise PermanentError(f"unknown referral {referral_id}")
    event = build(
        data,
        {
            "referral_id": referral.id,
            "agency_id": referral.agency_id,
            "network_id": referral.network_id,
        },
    )
    await publish_to_network(session, event, referral, data.occurred_at)  # type: ignore[attr-defined]
    return event

"""What several use cases share: the errors they raise, the referential checks, the referral's
routing fields, staging its events and writing its transition log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import Action, Actor, ReferralStatus
from referral.models import PLATFORM, Referral, ReferralTransition
from referral.referentials import departements, rome_codes
from shared.contracts.base import EventData
from shared.contracts.topics import agency_feed
from shared.http.problems import FieldError, ProblemError
from shared.messaging.outbox import add_event

INVALID = "Requête invalide"


def invalid(field_name: str, message: str, detail: str, *, location: str = "body") -> ProblemError:
    """422 problem naming the field at fault."""
    return ProblemError(
        422,
        INVALID,
        detail,
        problem="validation-error",
        errors=[FieldError(field_name, message, location)],
    )


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "Ressource introuvable", f"{what} introuvable.")


def check_rome_code(code: str, field_name: str = "rome_code") -> None:
    if code not in rome_codes():
        raise invalid(
            field_name, "code ROME inconnu", f"Code ROME {code} inconnu du référentiel ROME 4.0."
        )


def region_of(departement: str, field_name: str = "departement") -> str:
    try:
        return departements()[departement][1]
    except KeyError:
        raise invalid(
            field_name, "département inconnu", f"Département {departement} inconnu."
        ) from None


# -- a referral's events and log -----------------------------------------------------------------


def routing(referral: Referral) -> dict[str, Any]:
    """The fields every ``referral.events`` event carries."""
    return {
        "referral_id": referral.id,
        "agency_id": referral.agency_id,
        "network_id": referral.network_id,
        "counsellor_id": referral.counsellor_id,
        "structure_code": referral.structure_code,
    }


async def publish(
    session: AsyncSession, event: EventData, referral: Referral, source: str, at: datetime
) -> None:
    """Stage an event on ``referral.events``."""
    await add_event(
        session, PLATFORM, event, source=source, subject=f"referrals/{referral.id}", occurred_at=at
    )


async def publish_to_network(
    session: AsyncSession, event: EventData, referral: Referral, source: str, at: datetime
) -> None:
    """Stage an event on the feed of the network the referral is addressed to."""
    await add_event(
        session,
        PLATFORM,
        event,
        source=source,
        subject=f"referrals/{referral.id}",
        topic=agency_feed(referral.network_id).name,
        occurred_at=at,
    )


@dataclass(frozen=True, slots=True)
class Logged:
    """What the transition log keeps of one action besides the states."""

    action: Action
    actor: Actor
    actor_id: str
    occurred_at: datetime
    comment: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


def log_transition(
    referral: Referral, current: ReferralStatus, target: ReferralStatus, entry: Logged
) -> ReferralTransition:
    """Move ``referral`` to ``target`` and return its transition-log row (to add)."""
    now = datetime.now(UTC)
    referral.status = target.value
    referral.updated_at = now
    if target.is_final:
        referral.finished_at = entry.occurred_at
    return ReferralTransition(
        referral_id=referral.id,
        from_status=current.value,
        to_status=target.value,
        action=entry.action.value,
        actor=entry.actor.value,
        actor_id=entry.actor_id,
        comment=entry.comment,
        reason=entry.reason,
        details=entry.details or None,
        occurred_at=entry.occurred_at,
        recorded_at=now,
        event_id=entry.event_id,
    )


async def locked_referral(session: AsyncSession, referral_id: uuid.UUID) -> Referral | None:
    return await session.scalar(
        select(Referral).where(Referral.id == referral_id).with_for_update()
    )

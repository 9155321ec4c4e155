"""What several use cases share: the refusals they raise, the referential checks, the referral's
routing fields, staging its events and writing its transition log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import Action, Actor, ReferralStatus
from referral.models import OUTBOX, Agency, Referral, ReferralTransition
from shared import referentials
from shared.contracts.base import EventData
from shared.contracts.topics import agency_feed
from shared.db.transition_log import record_transition
from shared.domain.errors import FieldIssue, InvalidInput, NotFound
from shared.domain.transitions import Transition
from shared.messaging.outbox import Staged


def invalid(field_name: str, message: str, detail: str, *, location: str = "body") -> InvalidInput:
    """A 422 naming the field at fault (``message``) and saying why (``detail``)."""
    return InvalidInput(detail, errors=[FieldIssue(field_name, message, location)])


def not_found(what: str) -> NotFound:
    return NotFound(f"{what} introuvable.")


def check_rome_code(code: str, field_name: str = "rome_code") -> None:
    if not referentials.is_rome_code(code):
        raise invalid(
            field_name, "code ROME inconnu", f"Code ROME {code} inconnu du référentiel ROME 4.0."
        )


def region_of(departement: str, field_name: str = "departement") -> str:
    region = referentials.region_of(departement)
    if region is None:
        raise invalid(field_name, "département inconnu", f"Département {departement} inconnu.")
    return region


def sent_between(first_day: date | None, last_day: date | None) -> list[ColumnElement[bool]]:
    """Conditions on :class:`Referral`: sent on ``first_day`` or after, on ``last_day`` or
    before (whole days, UTC)."""
    return days_between(Referral.created_at, first_day, last_day)


def days_between(
    column: Any, first_day: date | None, last_day: date | None
) -> list[ColumnElement[bool]]:
    """Conditions on a timestamp ``column``: on ``first_day`` or after, on ``last_day`` or before
    (whole days, UTC; either bound may be missing)."""
    conditions = []
    if first_day is not None:
        conditions.append(column >= _day_start(first_day))
    if last_day is not None:
        conditions.append(column < _day_start(last_day + timedelta(days=1)))
    return conditions


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


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
    session: AsyncSession, event: EventData, referral: Referral, at: datetime
) -> None:
    """Stage an event on ``referral.events``."""
    await OUTBOX.stage(session, event, subject=f"referrals/{referral.id}", occurred_at=at)


async def publish_with_network(
    session: AsyncSession,
    event: EventData,
    network_event: EventData,
    referral: Referral,
    at: datetime,
) -> None:
    """Stage ``event`` on ``referral.events`` and ``network_event`` on the feed of the referral's
    network, in that order, in one statement."""
    await OUTBOX.stage_all(session, network_staged(event, network_event, referral, at))


def network_staged(
    event: EventData, network_event: EventData, referral: Referral, at: datetime
) -> list[Staged]:
    """What :func:`publish_with_network` stages: ``event`` on ``referral.events``, then
    ``network_event`` on the feed of the referral's network."""
    subject = f"referrals/{referral.id}"
    return [
        Staged(event, subject=subject, occurred_at=at),
        Staged(
            network_event,
            subject=subject,
            topic=agency_feed(referral.network_id).name,
            occurred_at=at,
        ),
    ]


async def agency_names(session: AsyncSession, agency_id: str) -> dict[str, str | None]:
    """The agency's name and town, which the messages about its referrals name (not personal)."""
    return agency_names_of(await session.get(Agency, agency_id))


def agency_names_of(agency: Agency | None) -> dict[str, str | None]:
    """:func:`agency_names` of an agency already loaded."""
    if agency is None:
        return {"agency_name": None, "agency_town": None}
    return {"agency_name": agency.name, "agency_town": referentials.town_of(agency.address)}


async def publish_to_network(
    session: AsyncSession, event: EventData, referral: Referral, at: datetime
) -> None:
    """Stage an event on the feed of the network the referral is addressed to."""
    await OUTBOX.stage(
        session,
        event,
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

    def log_fields(self) -> dict[str, Any]:
        """The transition-log row's columns this entry gives (recorded now)."""
        return {
            "actor": self.actor,
            "actor_id": self.actor_id,
            "occurred_at": self.occurred_at,
            "action": self.action.value,
            "comment": self.comment,
            "reason": self.reason,
            "details": self.details or None,
            "recorded_at": datetime.now(UTC),
            "event_id": self.event_id,
        }


def move(
    session: AsyncSession,
    referral: Referral,
    row: Transition[ReferralStatus],
    entry: Logged,
    *,
    current: ReferralStatus | None,
) -> ReferralStatus:
    """Take ``row`` of the lifecycle table (checked by :func:`referral.domain.transition`) on
    ``referral``: set its status and add its transition-log row."""
    record_transition(
        session,
        referral,
        row,
        current=current,
        log_model=ReferralTransition,
        aggregate_fk="referral_id",
        **entry.log_fields(),
    )
    if row.target.is_ended:
        referral.finished_at = entry.occurred_at
    elif current is not None and current.is_ended:
        referral.finished_at = None  # a declined referral re-opened
    return row.target


def first_transition(
    session: AsyncSession,
    referral: Referral,
    row: Transition[ReferralStatus],
    entry: Logged,
) -> ReferralTransition:
    """:func:`move` of a referral being sent, not in the session (its rows are written through
    Core, ``adapters/referral_rows.py``): its status set, its first log row returned unwritten."""
    log_row: ReferralTransition = record_transition(
        session,
        referral,
        row,
        current=None,
        log_model=ReferralTransition,
        aggregate_fk="referral_id",
        **entry.log_fields(),
    )
    # The one transition-log writer adds its row to the session: taken back, written with the
    # referral's other rows.
    session.expunge(log_row)
    if row.target.is_ended:
        referral.finished_at = entry.occurred_at
    return log_row


async def locked_referral(session: AsyncSession, referral_id: uuid.UUID) -> Referral | None:
    return await session.scalar(
        select(Referral).where(Referral.id == referral_id).with_for_update()
    )

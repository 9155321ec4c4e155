"""Finding the people a rule names, and how to reach them.

Events carry ids, not contact details (minimisation). The directory (``recipients``) holds what
this service may know:

- **agency**: the agency's contact email and webhook, registered by ops
  (``PUT /v1/recipients/agency/{agency_id}``; ``make up`` registers the demo agencies). The agency
  is the event's ``agency_id`` or, failing that, the agency of the referral it is about.
- **counsellor**: the event's ``counsellor_id`` (the token subject of the counsellor who sent the
  referral) or the referral's counsellor; reachable in the in-app inbox without any registration,
  by email once ops register an address.
- **tutor**: one per immersion convention, with the name and email of
  ``coop.immersion.validated.v1``.
- **job seeker**: not reachable. No event records a job seeker's consent to be contacted, and
  contact details must not leave the referral service without it (DESIGN.md, personal data), so
  rules naming job seekers create no message until such an event exists
  (:data:`JOB_SEEKERS_REACHABLE`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.models import FollowedReferral, Recipient

#: Decision recorded in docs/notifications.md and tested: job seekers are told nothing until a
#: consent event (with a contact channel) exists.
JOB_SEEKERS_REACHABLE = False


@dataclass(frozen=True, slots=True)
class Addressee:
    kind: str
    id: str
    name: str | None = None
    email: str | None = None
    webhook_url: str | None = None
    opted_out_channels: frozenset[str] = field(default_factory=frozenset)
    opted_out_kinds: frozenset[str] = field(default_factory=frozenset)

    def address_for(self, channel: str) -> str | None:
        """Where ``channel`` reaches them, or None when nothing is on file."""
        if channel == "email":
            return self.email
        if channel == "webhook":
            return self.webhook_url
        if channel == "inbox":
            return inbox_address(self.kind, self.id)
        raise ValueError(f"unknown channel {channel}")


def inbox_address(kind: str, recipient_id: str) -> str:
    return f"{kind}:{recipient_id}"


async def find(
    session: AsyncSession, audience: str, context: Mapping[str, Any]
) -> Addressee | None:
    """The recipient ``audience`` designates for this event, or None if there is none."""
    if audience == "job_seeker":
        job_seeker_id = context.get("job_seeker_id")
        if not JOB_SEEKERS_REACHABLE or job_seeker_id is None:
            return None
        known = await session.get(Recipient, ("job_seeker", str(job_seeker_id)))
        return _from_row(known) if known is not None else None
    if audience == "agency":
        agency_id = context.get("agency_id") or await _from_referral(session, context, "agency_id")
        return await addressee(session, "agency", agency_id) if agency_id else None
    if audience == "counsellor":
        subject = context.get("counsellor_id") or await _from_referral(
            session, context, "counsellor_id"
        )
        return await addressee(session, "counsellor", subject) if subject else None
    if audience == "tutor":
        convention_id = context.get("convention_id")
        if convention_id is None:
            return None
        known = await session.get(Recipient, ("tutor", str(convention_id)))
        return _from_row(known) if known is not None else None
    raise ValueError(f"unknown audience {audience}")


async def addressee(session: AsyncSession, kind: str, recipient_id: str) -> Addressee:
    row = await session.get(Recipient, (kind, recipient_id))
    return _from_row(row) if row is not None else Addressee(kind=kind, id=recipient_id)


async def _from_referral(
    session: AsyncSession, context: Mapping[str, Any], attribute: str
) -> str | None:
    referral_id = context.get("referral_id")
    if referral_id is None:
        return None
    referral = await session.get(FollowedReferral, uuid.UUID(str(referral_id)))
    return getattr(referral, attribute) if referral is not None else None


def _from_row(row: Recipient) -> Addressee:
    return Addressee(
        kind=row.kind,
        id=row.id,
        name=row.display_name,
        email=row.email,
        webhook_url=row.webhook_url,
        opted_out_channels=frozenset(row.opted_out_channels or ()),
        opted_out_kinds=frozenset(row.opted_out_kinds or ()),
    )


async def upsert(session: AsyncSession, kind: str, recipient_id: str, **values: Any) -> Recipient:
    """Create or update a directory entry (only the given fields change)."""
    now = datetime.now(UTC)
    row = await session.get(Recipient, (kind, recipient_id))
    if row is None:
        row = Recipient(
            kind=kind,
            id=recipient_id,
            opted_out_channels=[],
            opted_out_kinds=[],
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    await session.flush()
    return row

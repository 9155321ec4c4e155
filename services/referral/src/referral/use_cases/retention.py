"""Retention of the referral service's own audit texts (issue 11, item 5).

**Refused answers** (``refused_responses``): the audit of an agency answer that was not applied
describes a dead letter, which the broker keeps 90 days (``<topic>.dlq``, `docs/personal-data.md`).
The audit row goes after the same 90 days (:data:`REFUSED_RESPONSES_RETENTION`): past that there is
no record left to inspect or replay, and ``coop_agency_responses_refused_total`` keeps the count.

Its ``error`` text is screened when written (:func:`shared.privacy.screen_error_text`): the
refusal is worded by the platform, but its detail may quote what the partner sent (a value a
validator echoed); an e-mail address, a phone number, a NIR, bank details or a health word are
replaced by « [retiré] » before the row is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from referral.models import RefusedResponse

#: As long as the dead letters the audit rows describe (the DLQ topics' retention).
REFUSED_RESPONSES_RETENTION = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class PurgeAuditTexts:
    now: datetime
    refused_responses: timedelta = REFUSED_RESPONSES_RETENTION


@dataclass(frozen=True, slots=True)
class AuditPurge:
    refused_responses: int


async def purge_audit_texts(session: AsyncSession, command: PurgeAuditTexts) -> AuditPurge:
    """One pass in the caller's transaction: the refused answers older than their retention."""
    if command.now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    refused = await session.execute(
        delete(RefusedResponse).where(
            RefusedResponse.recorded_at < command.now - command.refused_responses
        )
    )
    return AuditPurge(refused_responses=int(getattr(refused, "rowcount", 0) or 0))

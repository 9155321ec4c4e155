"""Retention of the referral service's own audit texts (issue 11, item 5).

**Refused answers** (``refused_responses``): the audit of an agency answer that was not applied
describes a dead letter, which the broker keeps 90 days (``<topic>.dlq``, `docs/personal-data.md`).
The audit row goes after the same 90 days (:data:`REFUSED_RESPONSES_RETENTION`): past that there is
no record left to inspect or replay, and ``coop_agency_responses_refused_total`` keeps the count.

Its ``error`` text is screened when written (:func:`screen_error_text`): the refusal is worded by
the platform, but its detail may quote what the partner sent (a value a validator echoed); an
e-mail address, a phone number, a NIR, bank details or a health word are replaced by
« [retiré] » before the row is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from referral.models import RefusedResponse
from shared.privacy import redact_text
from shared.privacy.screening import REDACTED

#: As long as the dead letters the audit rows describe (the DLQ topics' retention).
REFUSED_RESPONSES_RETENTION = timedelta(days=90)

_EMAIL = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")
#: A French number (0X XX XX XX XX, +33 X…) or an international one in E.164; never the digits of
#: an identifier (a UUID, an offset): the number stands alone.
_PHONE = re.compile(
    r"(?<![\w-])(?:(?:\+\d{1,3}[\s.\-]?|0)[1-9](?:[\s.\-]?\d{2}){4}|\+\d{8,15})(?![\w-])"
)


def screen_error_text(text: str) -> str:
    """``text`` without e-mail addresses, phone numbers, NIR, bank details or health words."""
    text = _EMAIL.sub(REDACTED, text)
    text, _ = redact_text(text, "error")
    return _PHONE.sub(REDACTED, text)


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

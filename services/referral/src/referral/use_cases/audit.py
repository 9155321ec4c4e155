"""The personal-data access audit (issue 10, item 9): every read or change of a job seeker's
record, of its consents, and every identity-bearing export is recorded — who (subject, role),
which organisation, what (action, resource, ids), when, why — in the same transaction as the
access. The log line says the same with ids only: never a name, a contact or a flag."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.models import PersonalDataAccess
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden
from shared.http.pagination import KeysetPage, fetch_page

log = structlog.get_logger(__name__)


async def record_access(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    resource: str,
    resource_id: object | None = None,
    job_seeker_id: uuid.UUID | None = None,
    view: str | None = None,
    reason: str | None = None,
) -> PersonalDataAccess:
    """One audit row, staged in the caller's transaction."""
    row = access_entry(
        principal,
        action=action,
        resource=resource,
        resource_id=resource_id,
        job_seeker_id=job_seeker_id,
        view=view,
        reason=reason,
    )
    session.add(row)
    return row


def access_entry(
    principal: Principal,
    *,
    action: str,
    resource: str,
    resource_id: object | None = None,
    job_seeker_id: uuid.UUID | None = None,
    view: str | None = None,
    reason: str | None = None,
) -> PersonalDataAccess:
    """The audit row of :func:`record_access` and its log line, the row left to the caller to
    write (``POST /v1/referrals`` writes its rows through Core: ``adapters/referral_rows.py``)."""
    row = PersonalDataAccess(
        id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        subject=principal.subject,
        role=principal.role.value,
        organisation=principal.organisation,
        action=action,
        resource=resource,
        resource_id=str(resource_id) if resource_id is not None else None,
        job_seeker_id=job_seeker_id,
        view=view,
        reason=reason,
    )
    log.info(
        "personal_data_access",
        subject=principal.subject,
        role=principal.role.value,
        organisation=principal.organisation,
        action=action,
        resource=resource,
        resource_id=row.resource_id,
        view=view,
    )
    return row


@dataclass(frozen=True, slots=True)
class AuditFilters:
    job_seeker_id: uuid.UUID | None = None
    subject: str | None = None
    organisation: str | None = None
    action: str | None = None
    resource: str | None = None
    occurred_from: date | None = None
    occurred_to: date | None = None


async def list_personal_data_access(
    session: AsyncSession,
    principal: Principal,
    filters: AuditFilters,
    *,
    cursor: str | None,
    limit: int,
) -> KeysetPage[Any]:
    """The audit, newest first, keyset-paged; ops only."""
    if not access.may_read_audit(principal):
        raise Forbidden(
            "Le journal des accès aux données personnelles est réservé à l'exploitation."
        )
    query = select(PersonalDataAccess)
    for column, value in (
        (PersonalDataAccess.job_seeker_id, filters.job_seeker_id),
        (PersonalDataAccess.subject, filters.subject),
        (PersonalDataAccess.organisation, filters.organisation),
        (PersonalDataAccess.action, filters.action),
        (PersonalDataAccess.resource, filters.resource),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.occurred_from is not None:
        start = datetime.combine(filters.occurred_from, time.min, tzinfo=UTC)
        query = query.where(PersonalDataAccess.occurred_at >= start)
    if filters.occurred_to is not None:
        end = datetime.combine(filters.occurred_to + timedelta(days=1), time.min, tzinfo=UTC)
        query = query.where(PersonalDataAccess.occurred_at < end)
    return await fetch_page(
        session,
        query,
        created=PersonalDataAccess.occurred_at,
        ident=PersonalDataAccess.id,
        cursor=cursor,
        limit=limit,
    )

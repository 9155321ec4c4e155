"""The personal-data access audit (ops): who read or changed which job seeker's record or
consents, from which organisation, when and why."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from referral.api.deps import Ops, Runtime
from referral.models import PersonalDataAccess
from referral.use_cases.audit import AuditFilters, list_personal_data_access
from shared.http.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["audit"])


class PersonalDataAccessOut(BaseModel):
    id: uuid.UUID
    occurred_at: datetime
    subject: str
    role: str
    organisation: str | None
    action: str
    resource: str
    resource_id: str | None
    job_seeker_id: uuid.UUID | None
    view: str | None
    reason: str | None


def access_out(row: PersonalDataAccess) -> dict[str, Any]:
    return PersonalDataAccessOut.model_validate(row, from_attributes=True).model_dump(mode="json")


@router.get(
    "/audit/personal-data",
    response_model=Page[PersonalDataAccessOut],
    summary="Journal des accès aux données personnelles",
)
async def personal_data_access(
    principal: Ops,
    runtime: Runtime,
    job_seeker_id: uuid.UUID | None = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    organisation: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    resource: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    occurred_from: Annotated[date | None, Query(alias="from")] = None,
    occurred_to: Annotated[date | None, Query(alias="to")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    filters = AuditFilters(
        job_seeker_id=job_seeker_id,
        subject=subject,
        organisation=organisation,
        action=action,
        resource=resource,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    async with runtime.session() as session:
        page = await list_personal_data_access(
            session, principal, filters, cursor=cursor, limit=limit
        )
    return page.map(access_out)

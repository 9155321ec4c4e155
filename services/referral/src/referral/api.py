"""Counsellor and ops HTTP API of the referral service (``/v1``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from referral.domain import ReferralStatus
from referral.models import PLATFORM, Agency, Referral
from referral.use_cases import JobSeekerInput, SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.http.idempotency import IdempotencyKey, IdempotencyStore, fingerprint
from shared.http.pagination import Page, decode_cursor, encode_cursor
from shared.http.problems import ProblemError
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["referrals"])

Counsellor = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR))]
CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]

FT_IDENTIFIER_PATTERN = r"^(\d{7}[0-9A-Za-z]|\d{11})$"


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]


class JobSeekerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ft_identifier: str = Field(
        pattern=FT_IDENTIFIER_PATTERN,
        description="Identifiant France Travail: 7 chiffres + 1 lettre ou chiffre, ou 11 chiffres.",
        examples=["1234567A"],
    )
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr | None = None
    departement: str | None = Field(default=None, pattern=r"^(\d{2}|2A|2B|97\d)$")


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_seeker: JobSeekerIn
    agency_id: str = Field(min_length=1, max_length=64)
    rome_code: str = Field(pattern=ROME_CODE_PATTERN, examples=["H2913"])
    message: str = Field(
        min_length=1, max_length=4000, description="Message du conseiller à l'agence (obligatoire)."
    )


class TransitionOut(BaseModel):
    from_status: str | None
    to_status: str
    to_status_label: str
    action: str
    actor: str
    actor_id: str
    comment: str | None
    occurred_at: datetime


class ReferralOut(BaseModel):
    id: uuid.UUID
    job_seeker_id: uuid.UUID
    agency_id: str
    network_id: str
    rome_code: str
    message: str
    status: str
    status_label: str
    counsellor_id: str
    structure_code: str | None
    created_at: datetime
    updated_at: datetime


class ReferralDetailOut(ReferralOut):
    timeline: list[TransitionOut]


class AgencyOut(BaseModel):
    id: str
    name: str
    network_id: str
    siret: str
    departement: str


def _out(referral: Referral) -> dict[str, object]:
    return ReferralOut(
        id=referral.id,
        job_seeker_id=referral.job_seeker_id,
        agency_id=referral.agency_id,
        network_id=referral.network_id,
        rome_code=referral.rome_code,
        message=referral.message,
        status=referral.status,
        status_label=ReferralStatus(referral.status).label,
        counsellor_id=referral.counsellor_id,
        structure_code=referral.structure_code,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
    ).model_dump(mode="json")


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralOut,
    summary="Orienter un demandeur d'emploi vers une agence",
)
async def create_referral(
    body: ReferralIn, principal: Counsellor, idempotency_key: IdempotencyKey, runtime: Runtime
) -> Response:
    store = IdempotencyStore(PLATFORM)
    request_fingerprint = fingerprint(body.model_dump(mode="json"))
    try:
        async with runtime.database.transaction() as session:
            stored = await store.lookup(session, principal, idempotency_key, request_fingerprint)
            if stored is not None:
                return stored.as_response()
            referral = await send_referral(
                session,
                SendReferral(
                    job_seeker=JobSeekerInput(**body.job_seeker.model_dump()),
                    agency_id=body.agency_id,
                    rome_code=body.rome_code,
                    message=body.message,
                ),
                principal,
                source=runtime.settings.event_source,  # type: ignore[attr-defined]
            )
            payload = _out(referral)
            location = f"/v1/referrals/{referral.id}"
            await store.remember(
                session,
                principal,
                idempotency_key,
                request_fingerprint,
                status_code=201,
                body=payload,
                location=location,
            )
    except IntegrityError as exc:
        # Same key sent twice at the same moment: the other request won.
        raise ProblemError(
            409, "Conflit", "Requête concurrente avec la même Idempotency-Key; réessayez."
        ) from exc
    return JSONResponse(payload, status_code=201, headers={"Location": location})


@router.get("/referrals", response_model=Page[ReferralOut], summary="Lister les orientations")
async def list_referrals(
    principal: CounsellorOrOps,
    runtime: Runtime,
    status: Annotated[ReferralStatus | None, Query()] = None,
    agency_id: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    query = select(Referral).order_by(Referral.created_at.desc(), Referral.id.desc())
    if principal.role is Role.COUNSELLOR:
        query = query.where(Referral.structure_code == principal.ft_structure)
    if status is not None:
        query = query.where(Referral.status == status.value)
    if agency_id is not None:
        query = query.where(Referral.agency_id == agency_id)
    if cursor:
        created_text, last_id = decode_cursor(cursor, size=2)
        created = datetime.fromisoformat(created_text)
        last = uuid.UUID(last_id)
        query = query.where(
            or_(
                Referral.created_at < created,
                and_(Referral.created_at == created, Referral.id < last),
            )
        )
    async with runtime.session() as session:
        rows = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_row = rows[-1]
        next_cursor = encode_cursor([last_row.created_at.isoformat(), str(last_row.id)])
    return {"items": [_out(row) for row in rows], "next_cursor": next_cursor}


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralDetailOut,
    summary="Lire une orientation et sa chronologie",
)
async def get_referral(
    referral_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> dict[str, object]:
    async with runtime.session() as session:
        referral = await session.scalar(
            select(Referral)
            .where(Referral.id == referral_id)
            .options(selectinload(Referral.transitions))
        )
    if referral is None or (
        principal.role is Role.COUNSELLOR and referral.structure_code != principal.ft_structure
    ):
        # A counsellor of another structure learns nothing, not even that it exists.
        raise ProblemError(404, "Ressource introuvable", f"Orientation {referral_id} introuvable.")
    detail = _out(referral)
    detail["timeline"] = [
        TransitionOut(
            from_status=t.from_status,
            to_status=t.to_status,
            to_status_label=ReferralStatus(t.to_status).label,
            action=t.action,
            actor=t.actor,
            actor_id=t.actor_id,
            comment=t.comment,
            occurred_at=t.occurred_at,
        ).model_dump(mode="json")
        for t in referral.transitions
    ]
    return detail


@router.get("/agencies", response_model=list[AgencyOut], summary="Annuaire des agences")
async def list_agencies(
    principal: CounsellorOrOps,
    runtime: Runtime,
    departement: Annotated[str | None, Query()] = None,
    network_id: Annotated[str | None, Query()] = None,
) -> list[dict[str, object]]:
    query = select(Agency).order_by(Agency.id)
    if departement:
        query = query.where(Agency.departement == departement)
    if network_id:
        query = query.where(Agency.network_id == network_id)
    async with runtime.session() as session:
        agencies = (await session.scalars(query)).all()
    return [AgencyOut.model_validate(a, from_attributes=True).model_dump() for a in agencies]

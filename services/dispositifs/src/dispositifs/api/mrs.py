"""MRS over HTTP: sessions, candidates, evaluations per habileté, the employer's decision."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dispositifs.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Cursor,
    Limit,
    RomeCode,
    Runtime,
    settings_of,
)
from dispositifs.api.immersion_schemas import DEPARTEMENT_PATTERN
from dispositifs.data import mrs_habiletes
from dispositifs.models import MrsCandidate, MrsSession
from dispositifs.use_cases import Session, queries
from dispositifs.use_cases import mrs as use
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

router = APIRouter(prefix="/v1/mrs", tags=["MRS"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmployerIn(_In):
    name: str = Field(min_length=1, max_length=200)
    siret: str = Field(pattern=r"^\d{14}$")


class MrsSessionIn(_In):
    employer: EmployerIn
    rome_code: RomeCode
    habiletes: list[str] = Field(description="Codes du référentiel (GET /v1/mrs/habiletes).")
    session_date: date
    capacity: int = Field(gt=0, le=500)
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)


class CandidateIn(_In):
    referral_id: uuid.UUID | None = None
    job_seeker_id: uuid.UUID | None = None


class EvaluationIn(_In):
    results: dict[str, bool] = Field(description="Habileté → acquise.")


class DecisionIn(_In):
    hired: bool


class CandidateOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    job_seeker_id: uuid.UUID
    referral_id: uuid.UUID | None
    registered_at: datetime
    results: dict[str, bool] | None
    positive: bool | None
    evaluated_at: datetime | None
    hired: bool | None
    decided_at: datetime | None
    placed_on: date | None


class MrsSessionOut(BaseModel):
    id: uuid.UUID
    employer: dict[str, str]
    rome_code: str
    habiletes: list[dict[str, str]]
    session_date: date
    capacity: int
    departement: str
    region_code: str | None
    structure_code: str | None
    created_at: datetime


class MrsSessionDetailOut(MrsSessionOut):
    candidates: list[CandidateOut]


class HabileteOut(BaseModel):
    code: str
    label: str


def _session_out(mrs: MrsSession, referential: dict[str, str]) -> dict[str, Any]:
    return MrsSessionOut(
        id=mrs.id,
        employer={"name": mrs.employer_name, "siret": mrs.employer_siret},
        rome_code=mrs.rome_code,
        habiletes=[{"code": c, "label": referential.get(c, c)} for c in mrs.habiletes],
        session_date=mrs.session_date,
        capacity=mrs.capacity,
        departement=mrs.departement,
        region_code=mrs.region_code,
        structure_code=mrs.structure_code,
        created_at=mrs.created_at,
    ).model_dump(mode="json")


def _candidate_out(candidate: MrsCandidate) -> dict[str, Any]:
    return CandidateOut.model_validate(candidate, from_attributes=True).model_dump(mode="json")


@router.get("/habiletes", response_model=list[HabileteOut], summary="Référentiel des habiletés")
async def list_habiletes(principal: CounsellorOrOps, runtime: Runtime) -> list[dict[str, str]]:
    referential = mrs_habiletes(settings_of(runtime).mrs_habiletes_file)
    return [{"code": code, "label": label} for code, label in referential.items()]


@router.post(
    "/sessions", status_code=201, response_model=MrsSessionOut, summary="Créer une session"
)
async def create_session(
    body: MrsSessionIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    settings = settings_of(runtime)

    command = use.NewMrsSession(
        employer_name=body.employer.name,
        employer_siret=body.employer.siret,
        rome_code=body.rome_code,
        habiletes=body.habiletes,
        session_date=body.session_date,
        capacity=body.capacity,
        departement=body.departement,
    )

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        mrs = await use.create_session(session, principal, command, settings)
        out = _session_out(mrs, mrs_habiletes(settings.mrs_habiletes_file))
        return out, f"/v1/mrs/sessions/{mrs.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("/sessions", response_model=Page[MrsSessionOut], summary="Lister les sessions")
async def list_sessions(
    principal: CounsellorOrOps, runtime: Runtime, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    async with runtime.session() as session:
        found = await queries.list_mrs_sessions(
            session, principal, queries.PageRequest(limit, cursor)
        )
    referential = mrs_habiletes(settings_of(runtime).mrs_habiletes_file)
    return found.map(lambda row: _session_out(row, referential))


@router.get(
    "/sessions/{session_id}",
    response_model=MrsSessionDetailOut,
    summary="Lire une session et ses candidats",
)
async def get_session(
    session_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> dict[str, Any]:
    async with runtime.session() as session:
        mrs, candidates = await queries.get_mrs_session(session, principal, session_id)
    detail = _session_out(mrs, mrs_habiletes(settings_of(runtime).mrs_habiletes_file))
    detail["candidates"] = [_candidate_out(c) for c in candidates]
    return detail


@router.post(
    "/sessions/{session_id}/candidates",
    status_code=201,
    response_model=CandidateOut,
    summary="Inscrire un candidat (dans la limite des places)",
)
async def register_candidate(
    session_id: uuid.UUID,
    body: CandidateIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    command = use.RegisterCandidate(
        session_id, job_seeker_id=body.job_seeker_id, referral_id=body.referral_id
    )

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        candidate = await use.register_candidate(session, principal, command)
        location = f"/v1/mrs/sessions/{candidate.session_id}/candidates/{candidate.id}"
        return _candidate_out(candidate), location

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.post(
    "/sessions/{session_id}/candidates/{candidate_id}/evaluation",
    response_model=CandidateOut,
    summary="Évaluer un candidat habileté par habileté (résultat global calculé)",
)
async def evaluate(
    session_id: uuid.UUID,
    candidate_id: uuid.UUID,
    body: EvaluationIn,
    principal: Counsellor,
    runtime: Runtime,
) -> dict[str, Any]:
    command = use.EvaluateCandidate(session_id, candidate_id, body.results)
    async with runtime.database.transaction() as session:
        candidate = await use.evaluate(session, principal, command, settings_of(runtime))
        return _candidate_out(candidate)


@router.post(
    "/sessions/{session_id}/candidates/{candidate_id}/hiring-decision",
    response_model=CandidateOut,
    summary="Enregistrer la décision d'embauche de l'employeur",
)
async def decide(
    session_id: uuid.UUID,
    candidate_id: uuid.UUID,
    body: DecisionIn,
    principal: Counsellor,
    runtime: Runtime,
) -> dict[str, Any]:
    command = use.DecideHiring(session_id, candidate_id, body.hired)
    async with runtime.database.transaction() as session:
        candidate = await use.decide_hiring(session, principal, command, settings_of(runtime))
        return _candidate_out(candidate)

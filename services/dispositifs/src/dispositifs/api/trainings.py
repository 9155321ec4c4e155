"""POEI and POEC over HTTP: POEC sessions, enrolments, completion and outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

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
from dispositifs.domain.training import ExpectedContract, PoeiMode, missions_overdue
from dispositifs.models import PoecSession, TrainingEnrolment
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import Session, queries
from dispositifs.use_cases import trainings as use
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.contracts.vocabulary import ContractType, TrainingKind
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

router = APIRouter(prefix="/v1/trainings", tags=["POEI / POEC"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PoecSessionIn(_In):
    title: str = Field(min_length=1, max_length=200)
    opco: str = Field(min_length=1, max_length=100, examples=["AKTO"])
    branch: str = Field(min_length=1, max_length=200, examples=["Travail temporaire"])
    temporary_work: bool = False
    rome_code: RomeCode
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)
    start_date: date
    end_date: date
    total_hours: int = Field(gt=0, le=2000)
    company_hours: int = Field(ge=0, le=2000)
    capacity: int = Field(gt=0, le=500)


class PoecSessionOut(PoecSessionIn):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    rome_code: str  # as stored: not checked against the referential again
    region_code: str | None
    structure_code: str | None
    created_at: datetime


class EmployerIn(_In):
    name: str = Field(min_length=1, max_length=200)
    siret: str = Field(pattern=r"^\d{14}$")


class ExpectedContractIn(_In):
    type: ContractType
    duration_months: int | None = Field(default=None, ge=0, le=120)
    missions_total_months: int | None = Field(
        default=None, ge=0, le=9, description="Missions : total dans les 9 mois après la POEI."
    )
    seasonal: bool = Field(
        default=False, description="Emploi saisonnier (seul cas d'un contrat de 4 mois)."
    )


class EnrolmentIn(_In):
    kind: TrainingKind
    referral_id: uuid.UUID | None = None
    job_seeker_id: uuid.UUID | None = None
    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    # POEI
    start_date: date | None = None
    end_date: date | None = None
    hours: int | None = Field(default=None, gt=0, le=2000)
    mode: PoeiMode | None = None
    brsa: bool = False
    birth_date: date | None = Field(
        default=None, description="Pour le plafond des publics ciblés (seniors); non conservée."
    )
    offer_id: str | None = Field(default=None, max_length=64)
    employer: EmployerIn | None = None
    expected_contract: ExpectedContractIn | None = None
    # POEC
    poec_session_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _terms_of_kind(self) -> EnrolmentIn:
        if self.kind is TrainingKind.POEI:
            missing = [
                name
                for name in ("start_date", "end_date", "hours", "mode", "expected_contract")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"POEI : champs requis : {', '.join(missing)}")
        elif self.poec_session_id is None:
            raise ValueError("POEC : poec_session_id requis")
        return self


class CompletionIn(_In):
    completed: bool = Field(description="Formation suivie jusqu'au bout (sinon abandon).")
    hired: bool
    contract_type: ContractType | None = None
    contract_months: int | None = Field(default=None, ge=0, le=120)


class EnrolmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: str
    referral_id: uuid.UUID | None
    job_seeker_id: uuid.UUID
    structure_code: str | None
    start_date: date
    end_date: date
    hours: int
    departement: str | None
    region_code: str | None
    poei_mode: str | None
    targeted_public: str | None
    offer_id: str | None
    employer_name: str | None
    employer_siret: str | None
    expected_contract_type: str | None
    expected_contract_months: int | None
    expected_missions_total_months: int | None
    poec_session_id: uuid.UUID | None
    completed_at: datetime | None
    hired: bool | None
    contract_type: str | None
    contract_months: int | None
    placed_on: date | None
    missions_expected: bool | None = Field(
        description="POEC du travail temporaire terminée : des missions sont à confier (L6326-3)."
    )
    missions_given: int
    first_mission_on: date | None
    missions_overdue: bool = Field(
        default=False,
        description="Aucune mission enregistrée passé le délai de suivi (paramètre).",
    )
    created_at: datetime


class MissionIn(_In):
    start_date: date = Field(description="Après la fin de la POEC.")
    end_date: date


def _enrolment_out(row: TrainingEnrolment, settings: DispositifsSettings) -> dict[str, Any]:
    out = EnrolmentOut.model_validate(row)
    out.missions_overdue = missions_overdue(
        expected=row.missions_expected,
        missions_given=row.missions_given or 0,
        ended_on=row.end_date,
        today=datetime.now(UTC).date(),
        limits=settings.training_limits(),
    )
    return out.model_dump(mode="json")


def _poec_out(row: PoecSession) -> dict[str, Any]:
    return PoecSessionOut.model_validate(row).model_dump(mode="json")


@router.post(
    "/poec-sessions",
    status_code=201,
    response_model=PoecSessionOut,
    summary="Ouvrir une session POEC (besoins identifiés par la branche / l'OPCO)",
)
async def open_poec_session(
    body: PoecSessionIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    command = use.NewPoecSession(**body.model_dump())

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        poec = await use.open_poec_session(session, principal, command, settings_of(runtime))
        return _poec_out(poec), f"/v1/trainings/poec-sessions/{poec.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("/poec-sessions", response_model=Page[PoecSessionOut], summary="Sessions POEC")
async def list_poec_sessions(
    principal: CounsellorOrOps,
    runtime: Runtime,
    rome_code: Annotated[str | None, Query(pattern=ROME_CODE_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        found = await queries.list_poec_sessions(
            session, principal, queries.PageRequest(limit, cursor), rome_code=rome_code
        )
    return found.map(_poec_out)


@router.post(
    "/enrolments",
    status_code=201,
    response_model=EnrolmentOut,
    summary="Inscrire en POEI ou en POEC",
    responses={422: {"description": "Règle non respectée : l'article est cité"}},
)
async def enrol(
    body: EnrolmentIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    contract = body.expected_contract
    command = use.NewEnrolment(
        kind=body.kind,
        job_seeker_id=body.job_seeker_id,
        referral_id=body.referral_id,
        departement=body.departement,
        start_date=body.start_date,
        end_date=body.end_date,
        hours=body.hours,
        mode=body.mode,
        brsa=body.brsa,
        birth_date=body.birth_date,
        offer_id=body.offer_id,
        employer_name=body.employer.name if body.employer else None,
        employer_siret=body.employer.siret if body.employer else None,
        expected_contract=ExpectedContract(
            contract.type,
            contract.duration_months,
            contract.missions_total_months,
            seasonal=contract.seasonal,
        )
        if contract
        else None,
        poec_session_id=body.poec_session_id,
    )

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        enrolment = await use.enrol(session, principal, command, settings_of(runtime))
        return (
            _enrolment_out(enrolment, settings_of(runtime)),
            f"/v1/trainings/enrolments/{enrolment.id}",
        )

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("/enrolments", response_model=Page[EnrolmentOut], summary="Lister les inscriptions")
async def list_enrolments(
    principal: CounsellorOrOps,
    runtime: Runtime,
    kind: Annotated[TrainingKind | None, Query()] = None,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        found = await queries.list_enrolments(
            session,
            principal,
            queries.PageRequest(limit, cursor),
            kind=kind,
            referral_id=referral_id,
        )
    settings = settings_of(runtime)
    return found.map(lambda row: _enrolment_out(row, settings))


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentOut, summary="Lire")
async def get_enrolment(
    enrolment_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> dict[str, Any]:
    async with runtime.session() as session:
        row = await queries.get_enrolment(session, principal, enrolment_id)
    return _enrolment_out(row, settings_of(runtime))


@router.post(
    "/enrolments/{enrolment_id}/completion",
    response_model=EnrolmentOut,
    summary="Enregistrer la fin de formation et son issue",
)
async def complete(
    enrolment_id: uuid.UUID, body: CompletionIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.CompleteEnrolment(
        enrolment_id,
        completed=body.completed,
        hired=body.hired,
        contract_type=body.contract_type,
        contract_months=body.contract_months,
    )
    async with runtime.database.transaction() as session:
        row = await use.complete_enrolment(session, principal, command, settings_of(runtime))
        return _enrolment_out(row, settings_of(runtime))


@router.post(
    "/enrolments/{enrolment_id}/missions",
    status_code=201,
    response_model=EnrolmentOut,
    summary="Enregistrer une mission confiée après une POEC du travail temporaire (L6326-3)",
    responses={422: {"description": "Règle non respectée : l'article est cité"}},
)
async def record_mission(
    enrolment_id: uuid.UUID, body: MissionIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.RecordMission(enrolment_id, body.start_date, body.end_date)
    async with runtime.database.transaction() as session:
        row = await use.record_mission(session, principal, command)
        await session.flush()
        return _enrolment_out(row, settings_of(runtime))

"""PMSMP conventions over HTTP: request (``Idempotency-Key``), list (cursor), read with the
timeline, complete the content, then one POST per step of the lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from dispositifs.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Cursor,
    Limit,
    RomeCode,
    Runtime,
    settings_of,
)
from dispositifs.domain.immersion import ImmersionStatus, PrescriberKind
from dispositifs.models import ImmersionConvention
from dispositifs.use_cases import Session, queries
from dispositifs.use_cases import immersions as use
from shared.contracts.vocabulary import ImmersionObjet
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

router = APIRouter(prefix="/v1/immersions", tags=["immersions (PMSMP)"])

DEPARTEMENT_PATTERN = r"^(\d{2}|2A|2B|97\d)$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrescriberIn(_In):
    kind: PrescriberKind | None = None
    name: str | None = Field(default=None, max_length=200)


class BeneficiaryIn(_In):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    professional_situation: str | None = Field(default=None, max_length=200)
    brsa: bool | None = Field(default=None, description="Bénéficiaire du RSA, le cas échéant.")


class HostIn(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    siret: str | None = Field(default=None, pattern=r"^\d{14}$")
    address: str | None = Field(default=None, max_length=300)
    legal_form: str | None = Field(default=None, max_length=100)
    activity: str | None = Field(default=None, max_length=200)
    collective_agreement: str | None = Field(default=None, max_length=200)


class HostRequiredIn(HostIn):
    name: str = Field(min_length=1, max_length=200)
    siret: str = Field(pattern=r"^\d{14}$")


class TutorIn(_In):
    name: str | None = Field(default=None, max_length=200)
    function: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None


class SupportIn(_In):
    structure: str | None = Field(default=None, max_length=200)
    referent: str | None = Field(default=None, max_length=200)


class ContentIn(_In):
    """The convention's content (D5135-2). Every field may be completed later, before it is
    marked ready to sign."""

    objet: ImmersionObjet | None = None
    start_date: date | None = None
    end_date: date | None = None
    weekly_hours: float | None = Field(default=None, gt=0, le=168)
    schedule: str | None = Field(default=None, max_length=2000, description="Horaires.")
    place: str | None = Field(default=None, max_length=300, description="Lieu de l'immersion.")
    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    objectives: str | None = Field(default=None, max_length=4000)
    evaluation_method: str | None = Field(default=None, max_length=4000)
    tasks: str | None = Field(default=None, max_length=4000)
    prescriber: PrescriberIn | None = None
    beneficiary: BeneficiaryIn | None = None
    host: HostIn | None = None
    tutor: TutorIn | None = None
    support: SupportIn | None = None


class ImmersionIn(ContentIn):
    referral_id: uuid.UUID | None = Field(
        default=None, description="L'orientation que sert l'immersion, si elle en sert une."
    )
    job_seeker_id: uuid.UUID | None = Field(
        default=None, description="Le demandeur d'emploi, quand il n'y a pas d'orientation."
    )
    renewal_of: uuid.UUID | None = Field(
        default=None, description="La convention que celle-ci renouvelle (une seule fois)."
    )
    rome_code: RomeCode | None = None
    objet: ImmersionObjet
    start_date: date
    end_date: date
    host: HostRequiredIn


class JustificationIn(_In):
    justification: str = Field(min_length=3, max_length=2000)


class SignatureIn(_In):
    signatory: Literal["beneficiary", "host"]


class AssessmentIn(_In):
    objectives_reached: bool
    hired: bool
    assessment: str | None = Field(default=None, max_length=4000)


class TransitionOut(BaseModel):
    from_status: str | None
    to_status: str
    to_status_label: str
    actor: str
    actor_id: str
    comment: str | None
    occurred_at: datetime


class ImmersionOut(BaseModel):
    id: uuid.UUID
    status: str
    status_label: str
    origin: str
    referral_id: uuid.UUID | None
    job_seeker_id: uuid.UUID | None
    agency_id: str | None
    structure_code: str | None
    renewal_of: uuid.UUID | None
    rome_code: str | None
    objet: str
    start_date: date
    end_date: date
    weekly_hours: float | None
    schedule: str | None
    place: str | None
    departement: str | None
    region_code: str | None
    objectives: str | None
    evaluation_method: str | None
    tasks: str | None
    prescriber: dict[str, Any]
    beneficiary: dict[str, Any]
    host: dict[str, Any]
    tutor: dict[str, Any]
    support: dict[str, Any]
    signatures: dict[str, datetime | None]
    validated_at: datetime | None
    validated_by: str | None
    assessment: dict[str, Any] | None
    justification: str | None
    placement: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class ImmersionDetailOut(ImmersionOut):
    timeline: list[TransitionOut]


def _out(c: ImmersionConvention) -> dict[str, Any]:
    return ImmersionOut(
        id=c.id,
        status=c.status,
        status_label=ImmersionStatus(c.status).label,
        origin=c.origin,
        referral_id=c.referral_id,
        job_seeker_id=c.job_seeker_id,
        agency_id=c.agency_id,
        structure_code=c.structure_code,
        renewal_of=c.renewal_of_id,
        rome_code=c.rome_code,
        objet=c.objet,
        start_date=c.start_date,
        end_date=c.end_date,
        weekly_hours=c.weekly_hours,
        schedule=c.schedule,
        place=c.place,
        departement=c.departement,
        region_code=c.region_code,
        objectives=c.objectives,
        evaluation_method=c.evaluation_method,
        tasks=c.tasks,
        prescriber={"kind": c.prescriber_kind, "name": c.prescriber_name},
        beneficiary={
            "first_name": c.beneficiary_first_name,
            "last_name": c.beneficiary_last_name,
            "birth_date": c.beneficiary_birth_date,
            "professional_situation": c.beneficiary_professional_situation,
            "brsa": c.beneficiary_brsa,
        },
        host={
            "name": c.host_name,
            "siret": c.host_siret,
            "address": c.host_address,
            "legal_form": c.host_legal_form,
            "activity": c.host_activity,
            "collective_agreement": c.host_collective_agreement,
        },
        tutor={"name": c.tutor_name, "function": c.tutor_function, "email": c.tutor_email},
        support={"structure": c.support_structure, "referent": c.support_referent},
        signatures={"beneficiary": c.beneficiary_signed_at, "host": c.host_signed_at},
        validated_at=c.validated_at,
        validated_by=c.validated_by,
        assessment=None
        if c.objectives_reached is None
        else {
            "objectives_reached": c.objectives_reached,
            "hired": c.hired,
            "assessment": c.assessment,
            "completed_at": c.completed_at,
        },
        justification=c.justification,
        placement=None
        if c.placed_on is None
        else {"start_date": c.placed_on, "contract_type": c.placement_contract_type},
        created_at=c.created_at,
        updated_at=c.updated_at,
    ).model_dump(mode="json")


def _content(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent, flattened to the dotted keys of the content."""
    content: dict[str, Any] = {}
    for name, value in body.model_dump(exclude_unset=True).items():
        if name in {"referral_id", "job_seeker_id", "renewal_of", "rome_code"}:
            continue
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                content[f"{name}.{sub}"] = sub_value
        else:
            content[name] = value.value if hasattr(value, "value") else value
    return content


async def _step(
    runtime: Any, run: Callable[[Session], Awaitable[ImmersionConvention]]
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        convention = await run(session)
        await session.flush()
        return _out(convention)


@router.post(
    "",
    status_code=201,
    response_model=ImmersionOut,
    summary="Demander une convention d'immersion (PMSMP)",
    responses={422: {"description": "Règle non respectée : l'article est cité"}},
)
async def request_immersion(
    body: ImmersionIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    command = use.RequestImmersion(
        content=_content(body),
        referral_id=body.referral_id,
        job_seeker_id=body.job_seeker_id,
        renewal_of=body.renewal_of,
        rome_code=body.rome_code,
    )

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        convention = await use.request_immersion(session, principal, command, settings_of(runtime))
        return _out(convention), f"/v1/immersions/{convention.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("", response_model=Page[ImmersionOut], summary="Lister les conventions")
async def list_immersions(
    principal: CounsellorOrOps,
    runtime: Runtime,
    status: Annotated[ImmersionStatus | None, Query()] = None,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        found = await queries.list_immersions(
            session,
            principal,
            queries.PageRequest(limit, cursor),
            status=status,
            referral_id=referral_id,
        )
    return found.map(_out)


@router.get(
    "/{convention_id}",
    response_model=ImmersionDetailOut,
    summary="Lire une convention et sa chronologie",
)
async def get_immersion(
    convention_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> dict[str, Any]:
    async with runtime.session() as session:
        convention = await queries.get_immersion(session, principal, convention_id)
    detail = _out(convention)
    detail["timeline"] = [
        TransitionOut(
            from_status=t.from_status,
            to_status=t.to_status,
            to_status_label=ImmersionStatus(t.to_status).label,
            actor=t.actor,
            actor_id=t.actor_id,
            comment=t.comment,
            occurred_at=t.occurred_at,
        ).model_dump(mode="json")
        for t in convention.transitions
    ]
    return detail


@router.patch(
    "/{convention_id}",
    response_model=ImmersionOut,
    summary="Compléter ou corriger le contenu d'une convention demandée",
)
async def update_immersion(
    convention_id: uuid.UUID, body: ContentIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.UpdateContent(convention_id, _content(body))
    return await _step(
        runtime,
        lambda session: use.update_content(session, principal, command, settings_of(runtime)),
    )


@router.post(
    "/{convention_id}/ready",
    response_model=ImmersionOut,
    summary="Marquer prête à signer (contenu obligatoire complet, règles respectées)",
)
async def mark_ready(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.MarkReady(convention_id)
    return await _step(
        runtime, lambda session: use.mark_ready(session, principal, command, settings_of(runtime))
    )


@router.post(
    "/{convention_id}/signatures",
    response_model=ImmersionOut,
    summary="Enregistrer la signature du bénéficiaire ou de la structure d'accueil",
)
async def sign(
    convention_id: uuid.UUID, body: SignatureIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.RecordSignature(convention_id, body.signatory)
    return await _step(runtime, lambda session: use.record_signature(session, principal, command))


@router.post(
    "/{convention_id}/validate",
    response_model=ImmersionOut,
    summary="Valider la convention (conseiller du prescripteur)",
)
async def validate(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.ValidateImmersion(convention_id)
    return await _step(
        runtime, lambda session: use.validate(session, principal, command, settings_of(runtime))
    )


@router.post("/{convention_id}/start", response_model=ImmersionOut, summary="Constater le début")
async def start(
    convention_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.StartImmersion(convention_id, today=datetime.now(UTC).date())
    return await _step(runtime, lambda session: use.start(session, principal, command))


@router.post(
    "/{convention_id}/complete",
    response_model=ImmersionOut,
    summary="Clore avec le bilan (objectifs atteints, embauche)",
)
async def complete(
    convention_id: uuid.UUID, body: AssessmentIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    command = use.CompleteImmersion(
        convention_id,
        objectives_reached=body.objectives_reached,
        hired=body.hired,
        assessment=body.assessment,
    )
    return await _step(
        runtime, lambda session: use.complete(session, principal, command, settings_of(runtime))
    )


def _ending(target: ImmersionStatus, summary: str) -> None:
    async def endpoint(
        convention_id: uuid.UUID, body: JustificationIn, principal: Counsellor, runtime: Runtime
    ) -> dict[str, Any]:
        command = use.EndImmersion(convention_id, target, body.justification)
        return await _step(
            runtime, lambda session: use.end(session, principal, command, settings_of(runtime))
        )

    endpoint.__name__ = f"{target.value}_immersion"
    verb = {"rejected": "reject", "cancelled": "cancel", "deprecated": "deprecate"}[target.value]
    router.post(f"/{{convention_id}}/{verb}", response_model=ImmersionOut, summary=summary)(
        endpoint
    )


_ending(ImmersionStatus.REJECTED, "Refuser la convention (justification obligatoire)")
_ending(ImmersionStatus.CANCELLED, "Annuler la convention (justification obligatoire)")
_ending(ImmersionStatus.DEPRECATED, "Rendre la convention obsolète (justification obligatoire)")

"""Agency directory: search (département, région, ROME, network), suggestion with the parts of
each score, and ops endpoints to add and update agencies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from referral.adapters.network_topics import provision_network_topics
from referral.api.deps import (
    CounsellorOrOps,
    Ops,
    Runtime,
    Settings,
)
from referral.api.referrals import DEPARTEMENT_PATTERN
from referral.domain.suggestion import Point, Prior, Weights
from referral.models import Agency
from referral.use_cases import queries, suggestions
from referral.use_cases.agencies import AgencyInput, UpdateAgency, create_agency, update_agency
from referral.use_cases.common import invalid
from shared import referentials
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

router = APIRouter(prefix="/v1", tags=["agencies"])

AGENCY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,63}$"


class AgencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=AGENCY_ID_PATTERN, examples=["agc-interim-nord-lille"])
    name: str = Field(min_length=1, max_length=200)
    network_id: str = Field(pattern=AGENCY_ID_PATTERN, description="Enseigne (réseau).")
    siret: str = Field(min_length=14, max_length=17, description="14 chiffres (espaces admis).")
    address: str | None = Field(default=None, max_length=300)
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)
    email: EmailStr | None = Field(default=None, description="Adresse pour les notifications.")
    rome_codes: list[str] = Field(default_factory=list, max_length=200)
    commune: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, pattern=r"^\d{5}$")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    contact_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=20)


class AgencyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    network_id: str | None = Field(default=None, pattern=AGENCY_ID_PATTERN)
    siret: str | None = Field(default=None, min_length=14, max_length=17)
    address: str | None = Field(default=None, max_length=300)
    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    email: EmailStr | None = None
    rome_codes: list[str] | None = Field(default=None, max_length=200)
    active: bool | None = None
    commune: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, pattern=r"^\d{5}$")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    contact_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=20)


class AgencyOut(BaseModel):
    id: str
    name: str
    network_id: str
    siret: str
    address: str | None
    departement: str
    region: str
    region_name: str | None
    email: str | None
    rome_codes: list[str]
    active: bool
    commune: str | None = None
    postcode: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    contact_name: str | None = None
    phone: str | None = None
    directory_updated_at: datetime | None = None


class ScorePartOut(BaseModel):
    name: str
    value: float
    weight: float
    weighted: float
    explanation: str


class SuggestionOut(BaseModel):
    agency_id: str
    name: str
    network_id: str
    departement: str
    region: str
    distance_km: float | None = Field(
        default=None, description="Distance à l'origine (km), quand les deux sont géolocalisées."
    )
    score: float
    parts: list[ScorePartOut]


def agency_out(agency: Agency) -> dict[str, Any]:
    return AgencyOut(
        id=agency.id,
        name=agency.name,
        network_id=agency.network_id,
        siret=agency.siret,
        address=agency.address,
        departement=agency.departement,
        region=agency.region,
        region_name=referentials.regions().get(agency.region),
        email=agency.email,
        rome_codes=agency.rome_codes,
        active=agency.active,
        commune=agency.commune,
        postcode=agency.postcode,
        latitude=agency.latitude,
        longitude=agency.longitude,
        contact_name=agency.contact_name,
        phone=agency.phone,
        directory_updated_at=agency.directory_updated_at,
    ).model_dump(mode="json")


@router.get("/agencies", response_model=Page[AgencyOut], summary="Rechercher des agences")
async def list_agencies(
    principal: CounsellorOrOps,
    runtime: Runtime,
    departement: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    rome_code: Annotated[str | None, Query(pattern=ROME_CODE_PATTERN)] = None,
    network_id: Annotated[str | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    filters = queries.AgencyFilters(
        departement=departement,
        region=region,
        rome_code=rome_code,
        network_id=network_id,
        active=active,
    )
    async with runtime.session() as session:
        page = await queries.list_agencies(session, filters, cursor=cursor, limit=limit)
    return page.map(agency_out)


@router.get(
    "/agencies/suggestions",
    response_model=list[SuggestionOut],
    summary="Suggérer des agences pour un demandeur d'emploi et un métier",
)
async def suggest_agencies(
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
    rome_code: Annotated[str, Query(pattern=ROME_CODE_PATTERN)],
    departement: Annotated[str | None, Query(pattern=DEPARTEMENT_PATTERN)] = None,
    job_seeker_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> list[dict[str, Any]]:
    if (latitude is None) != (longitude is None):
        raise invalid(
            "latitude" if latitude is None else "longitude",
            "latitude et longitude vont ensemble",
            "Donner la latitude et la longitude de l'origine, ou ni l'une ni l'autre.",
            location="query",
        )
    origin = None if latitude is None or longitude is None else Point(latitude, longitude)
    query = suggestions.SuggestAgencies(rome_code, departement, job_seeker_id, limit, origin)
    async with runtime.session() as session:
        return await suggestions.suggest_agencies(
            session,
            principal,
            query,
            weights=Weights(
                specialisation=settings.suggestion_weight_specialisation,
                proximity=settings.suggestion_weight_proximity,
                acceptance=settings.suggestion_weight_acceptance,
                placement=settings.suggestion_weight_placement,
            ),
            prior=Prior(
                strength=settings.suggestion_prior_strength,
                acceptance=settings.suggestion_prior_acceptance,
                placement=settings.suggestion_prior_placement,
            ),
            radius_km=settings.suggestion_radius_km,
        )


@router.get("/agencies/{agency_id}", response_model=AgencyOut)
async def get_agency(agency_id: str, principal: CounsellorOrOps, runtime: Runtime) -> Any:
    async with runtime.session() as session:
        agency = await queries.get_agency(session, agency_id)
    return agency_out(agency)


@router.post(
    "/agencies", status_code=201, response_model=AgencyOut, summary="Ajouter une agence (ops)"
)
async def create_agency_route(
    body: AgencyIn,
    principal: Ops,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        data = body.model_dump()
        data["rome_codes"] = tuple(data["rome_codes"])
        agency = await create_agency(session, AgencyInput(**data), principal)
        return agency_out(agency), f"/v1/agencies/{agency.id}"

    response = await create_idempotently(runtime, principal, idempotency_key, request, body, create)
    await provision_network_topics(runtime, body.network_id)
    return response


@router.patch("/agencies/{agency_id}", response_model=AgencyOut, summary="Modifier une agence")
async def update_agency_route(
    agency_id: str, body: AgencyPatch, principal: Ops, runtime: Runtime
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    async with runtime.database.transaction() as session:
        agency = await update_agency(session, UpdateAgency(agency_id, changes), principal)
        result = agency_out(agency)
    if "network_id" in changes:
        await provision_network_topics(runtime, changes["network_id"])
    return result

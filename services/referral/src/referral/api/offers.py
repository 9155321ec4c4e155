"""Job offers: ROME 4.0 code, territory, contract, hard-to-fill flag with its source."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from referral.adapters.ft_offres import FtOffresClient, FtOffresConfig, FtOffresError, fetch_offers
from referral.api.deps import Counsellor, CounsellorOrOps, Ops, Runtime, Settings
from referral.api.referrals import DEPARTEMENT_PATTERN
from referral.domain import HardToFillSource
from referral.domain.matching import MatchWeights
from referral.models import JobOffer
from referral.use_cases import matching, queries
from referral.use_cases.common import invalid
from referral.use_cases.offer_answers import answers_to_offer
from referral.use_cases.offers import OfferInput, create_offer, import_ft_offers
from shared import referentials
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.contracts.vocabulary import ContractType
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page

router = APIRouter(prefix="/v1", tags=["offers"])


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    rome_code: str = Field(pattern=ROME_CODE_PATTERN, examples=["N4101"])
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)
    contract_type: ContractType
    posts: int = Field(default=1, ge=1, le=1000)
    hard_to_fill: bool = Field(default=False, description="Métier en tension.")
    hard_to_fill_source: HardToFillSource | None = Field(
        default=None,
        description="bmo (enquête BMO), regional_list (arrêté du 21 mai 2025), "
        "offer_flag (offresManqueCandidats). Obligatoire si hard_to_fill.",
    )
    ft_offer_id: str | None = Field(
        default=None, max_length=32, description="Identifiant de l'offre France Travail."
    )
    commune: str | None = Field(default=None, max_length=100)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class OfferOut(BaseModel):
    id: uuid.UUID
    title: str
    rome_code: str
    rome_label: str
    departement: str
    region: str
    contract_type: str
    contract_type_label: str
    posts: int
    hard_to_fill: bool
    hard_to_fill_source: str | None
    hard_to_fill_source_label: str | None
    ft_offer_id: str | None
    created_by: str
    structure_code: str | None
    created_at: datetime
    commune: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class OfferAnswerOut(BaseModel):
    id: int
    offer_id: uuid.UUID
    agency_id: str
    network_id: str
    answer: str = Field(description="has_candidates | request_pmsmp | request_mrs | request_poei")
    candidates: int | None
    answered_at: datetime


def offer_out(offer: JobOffer) -> dict[str, Any]:
    source = offer.hard_to_fill_source
    return OfferOut(
        id=offer.id,
        title=offer.title,
        rome_code=offer.rome_code,
        rome_label=referentials.rome_label(offer.rome_code) or "",
        departement=offer.departement,
        region=offer.region,
        contract_type=offer.contract_type,
        contract_type_label=ContractType(offer.contract_type).label,
        posts=offer.posts,
        hard_to_fill=offer.hard_to_fill,
        hard_to_fill_source=source,
        hard_to_fill_source_label=HardToFillSource(source).label if source else None,
        ft_offer_id=offer.ft_offer_id,
        created_by=offer.created_by,
        structure_code=offer.structure_code,
        created_at=offer.created_at,
        commune=offer.commune,
        latitude=offer.latitude,
        longitude=offer.longitude,
    ).model_dump(mode="json")


@router.post("/offers", status_code=201, response_model=OfferOut, summary="Enregistrer une offre")
async def create_offer_route(
    body: OfferIn,
    principal: CounsellorOrOps,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        offer = await create_offer(session, OfferInput(**body.model_dump()), principal)
        return offer_out(offer), f"/v1/offers/{offer.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("/offers", response_model=Page[OfferOut], summary="Lister les offres")
async def list_offers(
    principal: CounsellorOrOps,
    runtime: Runtime,
    rome_code: Annotated[str | None, Query(pattern=ROME_CODE_PATTERN)] = None,
    departement: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    hard_to_fill: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    async with runtime.session() as session:
        page = await queries.list_offers(
            session,
            principal,
            rome_code=rome_code,
            departement=departement,
            region=region,
            hard_to_fill=hard_to_fill,
            cursor=cursor,
            limit=limit,
        )
    return page.map(offer_out)


@router.get("/offers/{offer_id}", response_model=OfferOut)
async def get_offer(offer_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime) -> Any:
    async with runtime.session() as session:
        offer = await queries.get_offer(session, principal, offer_id)
    return offer_out(offer)


class FtSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    rome_code: str | None = Field(default=None, pattern=ROME_CODE_PATTERN)
    hard_to_fill_only: bool = Field(
        default=True, description="Seulement les offres signalées en manque de candidats."
    )


class FtSyncOut(BaseModel):
    received: int
    created: int
    already_known: int
    skipped: int = Field(description="Offres sans code ROME, département ou contrat reconnus.")
    published_to: list[str] = Field(description="Réseaux dont le flux a reçu une offre en tension.")


@router.post(
    "/offers/france-travail-sync",
    response_model=FtSyncOut,
    summary="Importer les offres de France Travail (API Offres d'emploi v2, ops)",
    description="Idempotent sur l'identifiant France Travail de l'offre : une offre déjà connue "
    "est laissée telle quelle (pas d'en-tête Idempotency-Key).",
)
async def sync_ft_offers(
    body: FtSyncIn, principal: Ops, runtime: Runtime, settings: Settings
) -> Any:
    if not settings.ft_offres_client_id or not settings.ft_offres_client_secret:
        raise invalid(
            "ft_offres_client_id",
            "non configuré",
            "L'accès à l'API Offres d'emploi de France Travail n'est pas configuré "
            "(REFERRAL_FT_OFFRES_CLIENT_ID, REFERRAL_FT_OFFRES_CLIENT_SECRET).",
        )
    criteria = {}
    if body.departement:
        criteria["departement"] = body.departement
    if body.rome_code:
        criteria["codeROME"] = body.rome_code
    if body.hard_to_fill_only:
        criteria["offresManqueCandidats"] = "true"
    client = FtOffresClient(
        FtOffresConfig(
            base_url=settings.ft_offres_base_url,
            token_url=settings.ft_offres_token_url,
            client_id=settings.ft_offres_client_id,
            client_secret=settings.ft_offres_client_secret,
        )
    )
    try:
        offers, skipped = await fetch_offers(client, **criteria)
    except (FtOffresError, httpx.HTTPError) as exc:
        raise HTTPException(
            status_code=503, detail=f"API France Travail indisponible : {type(exc).__name__}."
        ) from None
    finally:
        await client.aclose()
    async with runtime.database.transaction() as session:
        report = await import_ft_offers(session, offers, principal)
    return FtSyncOut(
        received=report.received,
        created=report.created,
        already_known=report.already_known,
        skipped=skipped,
        published_to=list(report.published_to),
    ).model_dump(mode="json")


@router.get(
    "/offers/{offer_id}/answers",
    response_model=list[OfferAnswerOut],
    summary="Réponses des agences à une offre en tension",
)
async def offer_answers(
    offer_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> list[dict[str, Any]]:
    async with runtime.session() as session:
        rows = await answers_to_offer(session, principal, offer_id)
    return [
        OfferAnswerOut.model_validate(row, from_attributes=True).model_dump(mode="json")
        for row in rows
    ]


# -- explained matching (issue 16, item 7) -------------------------------------------------------


class MatchPartOut(BaseModel):
    name: str
    value: float
    weight: float
    weighted: float
    explanation: str


class SeekerMatchOut(BaseModel):
    job_seeker_id: uuid.UUID
    score: float
    parts: list[MatchPartOut]


class OfferMatchOut(BaseModel):
    offer_id: uuid.UUID
    title: str
    rome_code: str
    departement: str
    hard_to_fill_source: str | None
    score: float
    parts: list[MatchPartOut]


@router.get(
    "/offers/{offer_id}/matches",
    response_model=list[SeekerMatchOut],
    summary="Demandeurs d'emploi de ma structure qui correspondent à l'offre, avec les raisons",
)
async def offer_matches(
    offer_id: uuid.UUID,
    principal: Counsellor,
    runtime: Runtime,
    settings: Settings,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    async with runtime.database.transaction() as session:
        return await matching.matches_for_offer(
            session,
            principal,
            offer_id,
            weights=MatchWeights(),
            radius_km=settings.suggestion_radius_km,
            limit=limit,
        )


@router.get(
    "/job-seekers/{job_seeker_id}/hard-to-fill-offers",
    response_model=list[OfferMatchOut],
    summary="Offres en tension à proximité d'un demandeur d'emploi, avec les raisons",
)
async def hard_to_fill_offers_nearby(
    job_seeker_id: uuid.UUID,
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    async with runtime.database.transaction() as session:
        return await matching.hard_to_fill_offers_for(
            session,
            principal,
            job_seeker_id,
            weights=MatchWeights(),
            radius_km=settings.suggestion_radius_km,
            limit=limit,
        )

"""Referrals: send (Idempotency-Key), list with filters and a cursor, read with the timeline,
withdraw with a reason. A counsellor sees the referrals of their own structure; ops see all."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from referral.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Runtime,
    Settings,
)
from referral.domain import (
    FOLLOW_UP_MONTHS,
    PriorityPublic,
    PriorToHireAction,
    PublicsRules,
    ReferralStatus,
    is_durable_placement,
)
from referral.models import Referral
from referral.use_cases import queries
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.referrals import (
    ReferralRows,
    SendReferral,
    WithdrawReferral,
    open_referral_conflict,
    send_referral,
    withdraw_referral,
    write_sent,
)
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.contracts.vocabulary import ContractType, DeclineReason
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page
from shared.privacy import PhoneNumber, ScreenedText

router = APIRouter(prefix="/v1", tags=["referrals"])

FT_IDENTIFIER_PATTERN = r"^(\d{7}[0-9A-Za-z]|\d{11})$"
DEPARTEMENT_PATTERN = r"^(\d{2}|2A|2B|97\d)$"


class JobSeekerIn(BaseModel):
    """A job seeker's France Travail record, minimal. Never a NIR."""

    model_config = ConfigDict(extra="forbid")

    ft_identifier: str = Field(
        pattern=FT_IDENTIFIER_PATTERN,
        description="Identifiant France Travail: 7 chiffres + 1 lettre ou chiffre, ou 11 chiffres.",
        examples=["1234567A"],
    )
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr | None = None
    phone: PhoneNumber | None = None
    birth_date: date | None = None
    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    rqth: bool | None = Field(
        default=None, description="Reconnaissance de la qualité de travailleur handicapé."
    )
    brsa: bool | None = Field(default=None, description="Bénéficiaire du RSA.")
    deld: bool | None = Field(
        default=None,
        description="Demandeur d'emploi de longue durée : ne compte que sans date d'inscription"
        " (avec ft_registration_date, DELD est calculé et l'emporte).",
    )
    qpv: bool | None = Field(default=None, description="Résident d'un quartier prioritaire.")
    ft_registration_date: date | None = Field(
        default=None,
        description="Date d'inscription à France Travail : DELD en est calculé (12 mois ou plus).",
    )

    def to_input(self) -> JobSeekerInput:
        return JobSeekerInput(**self.model_dump())


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_seeker: JobSeekerIn | None = Field(
        default=None, description="Le demandeur d'emploi (créé ou mis à jour), ou job_seeker_id."
    )
    job_seeker_id: uuid.UUID | None = None
    agency_id: str = Field(min_length=1, max_length=64)
    rome_code: str | None = Field(
        default=None,
        pattern=ROME_CODE_PATTERN,
        examples=["H2913"],
        description="Obligatoire sans offre; avec une offre, celui de l'offre.",
    )
    offer_id: uuid.UUID | None = None
    message: ScreenedText = Field(
        min_length=1,
        max_length=4000,
        description="Message du conseiller à l'agence (obligatoire) ; ni NIR, ni coordonnées "
        "bancaires, ni donnée de santé.",
    )
    share_identity: bool = Field(
        default=False,
        description="Transmettre identité et coordonnées (consentement enregistré requis).",
    )
    share_rqth: bool = Field(
        default=False,
        description="Transmettre la RQTH (consentement explicite pour cette agence requis).",
    )

    @model_validator(mode="after")
    def _one_job_seeker(self) -> ReferralIn:
        if (self.job_seeker is None) == (self.job_seeker_id is None):
            raise ValueError("exactly one of job_seeker and job_seeker_id")
        return self


class TimelineEntryOut(BaseModel):
    kind: str = Field(description="transition | scheme_event")
    occurred_at: datetime
    label: str
    from_status: str | None = None
    to_status: str | None = None
    to_status_label: str | None = None
    action: str | None = None
    actor: str | None = None
    actor_id: str | None = None
    comment: str | None = None
    reason: str | None = None
    reason_label: str | None = None
    scheme: str | None = None
    event_type: str | None = None
    details: dict[str, Any] | None = None


class PlacementOut(BaseModel):
    contract_type: str | None
    contract_type_label: str | None
    start_date: date | None
    expected_end_date: date | None
    weekly_hours: float | None
    end_date: date | None
    durable: bool = Field(
        description="CDI, ou contrat d'au moins N mois (réglage, 6) par le calendrier, "
        "prolongations comprises."
    )
    still_employed_months: int | None = Field(
        default=None,
        description="Dernier suivi (1, 3, 6 mois) où l'agence a répondu « toujours en poste ».",
    )
    durable_employment_measured: bool = Field(
        default=False, description="Toujours en poste au suivi à 6 mois (mesuré, pas supposé)."
    )


class LifecycleFactsOut(BaseModel):
    """What the agency said of a referral in progress."""

    postponed_until: date | None = Field(default=None, description="En attente jusqu'au.")
    pool_rome_codes: list[str] | None = Field(default=None, description="Métiers du vivier.")
    prior_to_hire_action: str | None = None
    prior_to_hire_action_label: str | None = None
    transferred_from_agency_id: str | None = None
    stale_reminded_at: datetime | None = Field(
        default=None, description="Relance de l'agence faute de nouvelles."
    )


class ReferralOut(BaseModel):
    id: uuid.UUID
    job_seeker_id: uuid.UUID
    agency_id: str
    network_id: str
    offer_id: uuid.UUID | None
    rome_code: str
    departement: str | None
    region: str | None
    message: str
    status: str
    status_label: str
    counsellor_id: str
    structure_code: str | None
    priority_publics: list[str]
    identity_shared: bool
    rqth_shared: bool
    first_answer_at: datetime | None
    decline_reason: str | None
    decline_reason_label: str | None
    placement: PlacementOut | None
    lifecycle: LifecycleFactsOut
    created_at: datetime
    updated_at: datetime


class ReferralDetailOut(ReferralOut):
    timeline: list[TimelineEntryOut]


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ScreenedText = Field(min_length=1, max_length=500, description="Motif du retrait.")


def referral_out(referral: Referral, durable_months: int = 6) -> dict[str, Any]:
    placement = None
    if referral.placed_at is not None:
        contract = referral.placement_contract_type
        placement = PlacementOut(
            contract_type=contract,
            contract_type_label=ContractType(contract).label if contract else None,
            start_date=referral.placement_start_date,
            expected_end_date=referral.placement_expected_end_date,
            weekly_hours=referral.placement_weekly_hours,
            end_date=referral.placement_end_date,
            durable=is_durable_placement(
                ContractType(contract) if contract else None,
                referral.placement_start_date,
                referral.placement_end_date or referral.placement_expected_end_date,
                min_months=durable_months,
            ),
            still_employed_months=referral.still_employed_months,
            durable_employment_measured=(referral.still_employed_months or 0)
            >= FOLLOW_UP_MONTHS[-1],
        )
    action = referral.prior_to_hire_action
    lifecycle = LifecycleFactsOut(
        postponed_until=referral.postponed_until,
        pool_rome_codes=referral.pool_rome_codes,
        prior_to_hire_action=action,
        prior_to_hire_action_label=PriorToHireAction(action).label if action else None,
        transferred_from_agency_id=referral.transferred_from_agency_id,
        stale_reminded_at=referral.stale_reminded_at,
    )
    reason = referral.decline_reason
    return ReferralOut(
        id=referral.id,
        job_seeker_id=referral.job_seeker_id,
        agency_id=referral.agency_id,
        network_id=referral.network_id,
        offer_id=referral.offer_id,
        rome_code=referral.rome_code,
        departement=referral.departement,
        region=referral.region,
        message=referral.message,
        status=referral.status,
        status_label=ReferralStatus(referral.status).label,
        counsellor_id=referral.counsellor_id,
        structure_code=referral.structure_code,
        priority_publics=[p.value for p in referral.priority_publics],
        identity_shared=referral.identity_shared,
        rqth_shared=referral.rqth_shared,
        first_answer_at=referral.first_answer_at,
        decline_reason=reason,
        decline_reason_label=DeclineReason(reason).label if reason else None,
        placement=placement,
        lifecycle=lifecycle,
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
    body: ReferralIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
    settings: Settings,
) -> Any:
    command = SendReferral(
        job_seeker=body.job_seeker.to_input() if body.job_seeker else None,
        job_seeker_fields=(
            frozenset(body.job_seeker.model_fields_set) if body.job_seeker else None
        ),
        job_seeker_id=body.job_seeker_id,
        agency_id=body.agency_id,
        rome_code=body.rome_code,
        offer_id=body.offer_id,
        message=body.message,
        share_identity=body.share_identity,
        share_rqth=body.share_rqth,
    )

    # The referral's rows and events, written with the key's row in one hand-off.
    rows = ReferralRows()

    async def create(session: Any) -> tuple[dict[str, Any], str]:
        referral = await send_referral(
            session,
            command,
            principal,
            rows=rows,
            senior_age=settings.senior_age,
            answer_within=settings.expiry_delay,
            publics_rules=PublicsRules(
                senior_age=settings.senior_age,
                jeune_age_limit=settings.jeune_age_limit,
                jeune_rqth_age_limit=settings.jeune_rqth_age_limit,
                deld_months=settings.deld_months,
            ),
        )
        return referral_out(
            referral, settings.durable_contract_months
        ), f"/v1/referrals/{referral.id}"

    return await create_idempotently(
        runtime,
        principal,
        idempotency_key,
        request,
        body,
        create,
        # The partial unique index caught two referrals sent at the same moment.
        on_conflict=open_referral_conflict(),
        # Every effect of the creation is in its transaction: the key is looked up only when
        # the creation fails (a retry), one statement fewer per referral.
        look_up_first=False,
        write_key=lambda session, insert, key_row: write_sent(session, rows, (insert, key_row)),
    )


@router.get("/referrals", response_model=Page[ReferralOut], summary="Lister les orientations")
async def list_referrals(
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
    status: Annotated[list[ReferralStatus] | None, Query()] = None,
    agency_id: Annotated[str | None, Query()] = None,
    network_id: Annotated[str | None, Query()] = None,
    departement: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    rome_code: Annotated[str | None, Query(pattern=ROME_CODE_PATTERN)] = None,
    priority_public: Annotated[PriorityPublic | None, Query()] = None,
    job_seeker_id: Annotated[uuid.UUID | None, Query()] = None,
    offer_id: Annotated[uuid.UUID | None, Query()] = None,
    sent_from: Annotated[date | None, Query(description="Envoyées ce jour ou après.")] = None,
    sent_to: Annotated[date | None, Query(description="Envoyées ce jour ou avant.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    filters = queries.ReferralFilters(
        status=status,
        agency_id=agency_id,
        network_id=network_id,
        departement=departement,
        region=region,
        rome_code=rome_code,
        priority_public=priority_public,
        job_seeker_id=job_seeker_id,
        offer_id=offer_id,
        sent_from=sent_from,
        sent_to=sent_to,
    )
    async with runtime.session() as session:
        page = await queries.list_referrals(session, principal, filters, cursor=cursor, limit=limit)
    return page.map(lambda row: referral_out(row, settings.durable_contract_months))


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralDetailOut,
    summary="Lire une orientation et sa chronologie",
)
async def get_referral(
    referral_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime, settings: Settings
) -> dict[str, object]:
    async with runtime.session() as session:
        referral, timeline = await queries.referral_with_timeline(session, principal, referral_id)
    detail = referral_out(referral, settings.durable_contract_months)
    detail["timeline"] = [
        TimelineEntryOut(
            kind=entry.kind, occurred_at=entry.occurred_at, label=entry.label, **entry.payload
        ).model_dump(mode="json")
        for entry in timeline
    ]
    return detail


@router.post(
    "/referrals/{referral_id}/withdraw",
    response_model=ReferralOut,
    summary="Retirer une orientation, avec un motif",
)
async def withdraw(
    referral_id: uuid.UUID,
    body: WithdrawIn,
    principal: Counsellor,
    runtime: Runtime,
) -> dict[str, object]:
    async with runtime.database.transaction() as session:
        referral = await withdraw_referral(
            session,
            WithdrawReferral(referral_id, body.reason),
            principal,
        )
        return referral_out(referral)

"""Job datings and open days (issue 16, item 4): create, invite in bulk (one referral each),
record attendance, and the figures invited / came / hired."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from referral.api.deps import (
    Counsellor,
    CounsellorOpsOrSteering,
    CounsellorOrOps,
    Runtime,
    Settings,
)
from referral.api.exports import csv_response, ods_response
from referral.api.indicators import Filters
from referral.api.referrals import DEPARTEMENT_PATTERN
from referral.models import JobDating
from referral.use_cases import job_datings as use_cases
from referral.use_cases.local_actions import by_region_rows, measure_local_actions_by_region
from shared.contracts.referral import ROME_CODE_PATTERN
from shared.http.idempotency import IdempotencyKey, create_idempotently

router = APIRouter(prefix="/v1", tags=["job datings"])


async def _local_actions_by_region(
    principal: Any, runtime: Any, settings: Any, filters: Any
) -> list[list[object]]:
    async with runtime.session() as session:
        result = await measure_local_actions_by_region(
            session, principal, filters, settings.statistical_secrecy_threshold
        )
    return by_region_rows(result)


@router.get(
    "/indicators/local-actions.csv",
    summary="Actions locales et offres en tension par région, en CSV (secret statistique)",
)
async def local_actions_csv(
    principal: CounsellorOpsOrSteering, runtime: Runtime, settings: Settings, filters: Filters
) -> Response:
    rows = await _local_actions_by_region(principal, runtime, settings, filters)
    return csv_response(rows, "actions-locales")


@router.get(
    "/indicators/local-actions.ods",
    summary="Actions locales et offres en tension par région, en tableur ODS",
)
async def local_actions_ods(
    principal: CounsellorOpsOrSteering, runtime: Runtime, settings: Settings, filters: Filters
) -> Response:
    rows = await _local_actions_by_region(principal, runtime, settings, filters)
    return ods_response([("actions_locales", rows)], "actions-locales")


class AgencyAtEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: str
    offer_id: uuid.UUID | None = None


class JobDatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["job_dating", "open_day"] = "job_dating"
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: str = Field(min_length=1, max_length=300)
    departement: str = Field(pattern=DEPARTEMENT_PATTERN)
    rome_code: str = Field(pattern=ROME_CODE_PATTERN)
    agencies: list[AgencyAtEvent] = Field(min_length=1, max_length=50)
    slots: list[AwareDatetime] = Field(default_factory=list, max_length=500)


class InvitationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: str
    job_seeker_ids: list[uuid.UUID] = Field(min_length=1, max_length=use_cases.MAX_INVITED_AT_ONCE)
    message: str = Field(min_length=1, max_length=2000)
    share_identity: bool = Field(
        default=False, description="Partager l'identité (consentement de chacun exigé)."
    )


class AttendanceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invitation_id: uuid.UUID
    came: bool
    outcome: Literal["interview", "hired"] | None = Field(
        default=None,
        description="Ce que la personne venue a obtenu : un entretien (l'orientation passe à"
        " « entretien programmé ») ou un recrutement (« acceptée » ; la prise de poste reste à"
        " déclarer par l'agence).",
    )


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[AttendanceEntry] = Field(min_length=1, max_length=1000)


class Figures(BaseModel):
    invited: int
    came: int
    did_not_come: int
    hired: int


class FiguresOut(BaseModel):
    total: Figures
    by_agency: dict[str, Figures]


class JobDatingOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    departement: str
    region: str
    rome_code: str
    slots: list[str]
    agencies: list[AgencyAtEvent]
    structure_code: str | None
    figures: FiguresOut | None = None


class InvitationOut(BaseModel):
    id: uuid.UUID
    job_seeker_id: uuid.UUID
    agency_id: str
    referral_id: uuid.UUID
    referral_status: str
    slot: str | None
    attendance: str | None


class JobDatingsOut(BaseModel):
    items: list[JobDatingOut]
    total: Figures


def _out(job_dating: JobDating, figures: dict[str, Any] | None = None) -> dict[str, Any]:
    return JobDatingOut(
        id=job_dating.id,
        kind=job_dating.kind,
        title=job_dating.title,
        starts_at=job_dating.starts_at,
        ends_at=job_dating.ends_at,
        place=job_dating.place,
        departement=job_dating.departement,
        region=job_dating.region,
        rome_code=job_dating.rome_code,
        slots=list(job_dating.slots),
        agencies=[
            AgencyAtEvent(agency_id=row.agency_id, offer_id=row.offer_id)
            for row in job_dating.agencies
        ],
        structure_code=job_dating.structure_code,
        figures=FiguresOut.model_validate(figures) if figures else None,
    ).model_dump(mode="json")


@router.post(
    "/job-datings",
    status_code=201,
    response_model=JobDatingOut,
    summary="Organiser un job dating ou une journée portes ouvertes",
)
async def create_job_dating(
    body: JobDatingIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        command = use_cases.CreateJobDating(
            kind=body.kind,
            title=body.title,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            place=body.place,
            departement=body.departement,
            rome_code=body.rome_code,
            agencies=[(a.agency_id, a.offer_id) for a in body.agencies],
            slots=body.slots,
        )
        job_dating = await use_cases.create_job_dating(session, command, principal)
        return _out(job_dating), f"/v1/job-datings/{job_dating.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get(
    "/job-datings",
    response_model=JobDatingsOut,
    summary="Job datings de la période, avec invités, présents et embauchés",
)
async def list_job_datings(
    principal: CounsellorOrOps,
    runtime: Runtime,
    first_day: Annotated[date | None, Query(alias="from")] = None,
    last_day: Annotated[date | None, Query(alias="to")] = None,
) -> Any:
    start = datetime.combine(first_day, time.min, tzinfo=UTC) if first_day else None
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC) if last_day else None
    async with runtime.session() as session:
        rows = await use_cases.job_datings_between(session, principal, start, end)
        items = [_out(job_dating, figures) for job_dating, figures in rows]
    total = {
        name: sum(figures["total"][name] for _, figures in rows)
        for name in ("invited", "came", "did_not_come", "hired")
    }
    return {"items": items, "total": total}


@router.get("/job-datings/{job_dating_id}", response_model=JobDatingOut)
async def get_job_dating(
    job_dating_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> Any:
    async with runtime.session() as session:
        job_dating = await use_cases.visible_job_dating(session, principal, job_dating_id)
        rows = await use_cases.invitations_of(session, principal, job_dating_id)
        return _out(job_dating, use_cases.figures(rows))


@router.post(
    "/job-datings/{job_dating_id}/invitations",
    status_code=201,
    response_model=list[InvitationOut],
    summary="Inviter des demandeurs d'emploi (une orientation chacun)",
)
async def invite(
    job_dating_id: uuid.UUID,
    body: InvitationsIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[list[dict[str, Any]], str]:
        command = use_cases.InviteJobSeekers(
            job_dating_id, body.agency_id, body.job_seeker_ids, body.message, body.share_identity
        )
        rows = await use_cases.invite_job_seekers(session, command, principal)
        out = [
            InvitationOut(
                id=row.id,
                job_seeker_id=row.job_seeker_id,
                agency_id=row.agency_id,
                referral_id=row.referral_id,
                referral_status="sent",
                slot=row.slot,
                attendance=row.attendance,
            ).model_dump(mode="json")
            for row in rows
        ]
        return out, f"/v1/job-datings/{job_dating_id}/invitations"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get(
    "/job-datings/{job_dating_id}/invitations",
    response_model=list[InvitationOut],
    summary="Les invités, leur orientation et leur présence",
)
async def invitations(
    job_dating_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> Any:
    async with runtime.session() as session:
        rows = await use_cases.invitations_of(session, principal, job_dating_id)
    return [
        InvitationOut(
            id=invitation.id,
            job_seeker_id=invitation.job_seeker_id,
            agency_id=invitation.agency_id,
            referral_id=invitation.referral_id,
            referral_status=referral.status,
            slot=invitation.slot,
            attendance=invitation.attendance,
        ).model_dump(mode="json")
        for invitation, referral in rows
    ]


@router.post(
    "/job-datings/{job_dating_id}/attendance",
    response_model=list[InvitationOut],
    summary="Noter la présence (venu / pas venu)",
)
async def attendance(
    job_dating_id: uuid.UUID, body: AttendanceIn, principal: Counsellor, runtime: Runtime
) -> Any:
    command = use_cases.RecordAttendance(
        job_dating_id, [(entry.invitation_id, entry.came, entry.outcome) for entry in body.entries]
    )
    async with runtime.database.transaction() as session:
        await use_cases.record_attendance(session, command, principal)
    return await invitations(job_dating_id, principal, runtime)

"""The PMSMP API's bodies: what a counsellor sends (the content of D5135-2, the parties who sign
by their own link, the structured schedule, the host's declarations) and what they read back."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from dispositifs.api.deps import RomeCode
from dispositifs.domain.immersion import ImmersionStatus, PrescriberKind
from dispositifs.domain.signing import SignatoryRole
from dispositifs.domain.working_time import Weekday, WeeklySchedule
from dispositifs.models import ImmersionConvention
from shared.contracts.vocabulary import ImmersionObjet
from shared.http.validation import Omittable
from shared.privacy import ScreenedText

DEPARTEMENT_PATTERN = r"^(\d{2}|2A|2B|97\d)$"
TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrescriberIn(_In):
    kind: PrescriberKind | None = None
    name: str | None = Field(default=None, max_length=200)


class BeneficiaryIn(_In):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    professional_situation: ScreenedText | None = Field(default=None, max_length=200)
    brsa: bool | None = Field(default=None, description="Bénéficiaire du RSA, le cas échéant.")
    email: EmailStr | None = Field(default=None, description="Reçoit son lien de signature.")
    salaried: bool | None = Field(
        default=None, description="Salarié : son employeur est partie à la convention (D5135-1)."
    )


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
    email: EmailStr | None = Field(
        default=None, description="Signe par son lien quand elle n'est pas le prescripteur."
    )


class PersonIn(_In):
    """A party who signs by its own link: name, function where relevant, e-mail address."""

    name: str | None = Field(default=None, max_length=200)
    function: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None


class PeriodIn(_In):
    start: str = Field(pattern=TIME_PATTERN, description="HH:MM")
    end: str = Field(pattern=TIME_PATTERN, description="HH:MM")


class DayIn(_In):
    day: Weekday
    periods: list[PeriodIn] = Field(min_length=1, max_length=6)


class HostDeclarationsIn(_In):
    """The host declares that the immersion serves none of the uses L5135-4 excludes."""

    not_permanent_post: bool = False
    not_activity_peak: bool = False
    not_seasonal_job: bool = False
    not_replacing_employee: bool = False


class ContentIn(_In):
    """The convention's content (D5135-2). Every field may be completed later, before it is
    marked ready to sign. A part that is an object (prescriber, host…) may be left out, not sent
    as ``null`` (a 422 on that field; issue 10): its own fields may be."""

    objet: ImmersionObjet | None = None
    start_date: date | None = None
    end_date: date | None = None
    weekly_hours: float | None = Field(default=None, gt=0, le=168)
    schedule: ScreenedText | None = Field(default=None, max_length=2000, description="Horaires.")
    place: ScreenedText | None = Field(
        default=None, max_length=300, description="Lieu de l'immersion."
    )
    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    objectives: ScreenedText | None = Field(default=None, max_length=4000)
    evaluation_method: ScreenedText | None = Field(default=None, max_length=4000)
    tasks: ScreenedText | None = Field(default=None, max_length=4000)
    prescriber: Omittable[PrescriberIn] = None
    beneficiary: Omittable[BeneficiaryIn] = None
    host: Omittable[HostIn] = None
    tutor: Omittable[TutorIn] = None
    support: Omittable[SupportIn] = None
    host_representative: Omittable[PersonIn] = Field(
        default=None, description="Qui signe pour la structure d'accueil."
    )
    legal_representative: Omittable[PersonIn] = Field(
        default=None, description="Représentant légal, signataire quand le bénéficiaire est mineur."
    )
    employer: Omittable[PersonIn] = Field(
        default=None, description="Employeur du bénéficiaire salarié (D5135-1)."
    )
    schedule_plan: list[DayIn] | None = Field(
        default=None,
        max_length=7,
        description="Semaine type (jours et périodes) : heures par jour et par semaine calculées.",
    )
    host_declarations: HostDeclarationsIn | None = None
    renewal_justification: ScreenedText | None = Field(default=None, max_length=2000)


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
    justification: ScreenedText = Field(min_length=3, max_length=2000)


class RenewalIn(_In):
    start_date: date = Field(description="Après la fin de la convention initiale (D5135-3).")
    end_date: date
    justification: ScreenedText = Field(min_length=3, max_length=2000)


class SignatureIn(_In):
    signatory: Literal["beneficiary", "host"]


class AssessmentIn(_In):
    objectives_reached: bool
    hired: bool
    assessment: ScreenedText | None = Field(default=None, max_length=4000)


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
    host_representative: dict[str, Any]
    legal_representative: dict[str, Any] | None
    employer: dict[str, Any] | None
    schedule_plan: list[dict[str, Any]] | None
    daily_hours: dict[str, float] | None
    host_declarations: dict[str, bool] | None
    renewal_justification: str | None
    pre_validation: dict[str, Any] | None
    signatures: dict[str, datetime | None]
    validated_at: datetime | None
    validated_by: str | None
    assessment: dict[str, Any] | None
    justification: str | None
    placement: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class SignatoryOut(BaseModel):
    role: str
    role_label: str
    name: str | None
    signed_at: datetime | None
    link_expires_at: datetime
    links_sent: int
    error_report: str | None
    error_reported_at: datetime | None


class IncidentOut(BaseModel):
    id: uuid.UUID
    kind: str
    occurred_on: date
    description: str
    reported_by: str
    reported_at: datetime


class ImmersionDetailOut(ImmersionOut):
    timeline: list[TransitionOut]
    signatories: list[SignatoryOut]
    incidents: list[IncidentOut]


def immersion_out(c: ImmersionConvention) -> dict[str, Any]:
    schedule = WeeklySchedule.from_json(c.schedule_plan)
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
        support={
            "structure": c.support_structure,
            "referent": c.support_referent,
            "email": c.support_email,
        },
        host_representative={
            "name": c.host_representative_name,
            "function": c.host_representative_function,
            "email": c.host_representative_email,
        },
        legal_representative=None
        if not (c.legal_representative_name or c.legal_representative_email)
        else {"name": c.legal_representative_name, "email": c.legal_representative_email},
        employer=None
        if not (c.employer_name or c.employer_email)
        else {"name": c.employer_name, "email": c.employer_email},
        schedule_plan=schedule.to_json() if schedule else None,
        daily_hours={d.value: h for d, h in schedule.daily_hours().items()} if schedule else None,
        host_declarations=c.host_declarations,
        renewal_justification=c.renewal_justification,
        pre_validation=None
        if c.pre_validated_at is None
        else {"at": c.pre_validated_at, "by": c.pre_validated_by},
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
            "outcome": c.assessment_outcome,
            "assessed_by": c.assessed_by,
            "last_day": c.assessment_last_day,
            "missed_hours": c.assessment_missed_hours,
            "job_contract_type": c.job_contract_type,
            "job_start_date": c.job_start_date,
            "acknowledged_at": c.assessment_acknowledged_at,
        },
        justification=c.justification,
        placement=None
        if c.placed_on is None
        else {"start_date": c.placed_on, "contract_type": c.placement_contract_type},
        created_at=c.created_at,
        updated_at=c.updated_at,
    ).model_dump(mode="json")


def detail_out(c: ImmersionConvention) -> dict[str, Any]:
    detail = immersion_out(c)
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
        for t in c.transitions
    ]
    detail["signatories"] = [
        SignatoryOut(
            role=s.role,
            role_label=SignatoryRole(s.role).label,
            name=s.name,
            signed_at=s.signed_at,
            link_expires_at=s.link_expires_at,
            links_sent=s.links_sent,
            error_report=s.error_report,
            error_reported_at=s.error_reported_at,
        ).model_dump(mode="json")
        for s in c.signatories
    ]
    detail["incidents"] = [
        IncidentOut(
            id=i.id,
            kind=i.kind,
            occurred_on=i.occurred_on,
            description=i.description,
            reported_by=i.reported_by,
            reported_at=i.reported_at,
        ).model_dump(mode="json")
        for i in c.incidents
    ]
    return detail


#: Values stored whole rather than flattened to dotted keys.
_WHOLE = {"host_declarations", "schedule_plan"}


def content_of(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent, flattened to the dotted keys of the content."""
    content: dict[str, Any] = {}
    whole = body.model_dump(exclude_unset=True, mode="json", include=_WHOLE)
    for name, value in body.model_dump(exclude_unset=True).items():
        if name in {"referral_id", "job_seeker_id", "renewal_of", "rome_code"}:
            continue
        if name in _WHOLE:
            content[name] = whole[name]
        elif isinstance(value, dict):
            for sub, sub_value in value.items():
                content[f"{name}.{sub}"] = sub_value
        else:
            content[name] = value.value if hasattr(value, "value") else value
    return content

"""Events of the dispositifs service: PMSMP immersions, MRS, POEI/POEC (topic
``dispositifs.events``; key = the convention, session or enrolment id; ``referral_id`` in the data
when the scheme serves a referral)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import EventData
from shared.contracts.topics import DISPOSITIFS_EVENTS
from shared.contracts.vocabulary import ContractType, ImmersionObjet, TrainingKind


class ImmersionStatus(enum.StrEnum):
    """Where a PMSMP convention stands (the national tool's lifecycle); other services follow
    conventions by these values."""

    REQUESTED = "requested"
    READY_TO_SIGN = "ready_to_sign"
    PARTIALLY_SIGNED = "partially_signed"
    SIGNED = "signed"
    VALIDATED = "validated"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    DEPRECATED = "deprecated"

    @property
    def label(self) -> str:
        return _IMMERSION_STATUS_LABELS[self]


_IMMERSION_STATUS_LABELS = {
    ImmersionStatus.REQUESTED: "Demandée",
    ImmersionStatus.READY_TO_SIGN: "Prête à signer",
    ImmersionStatus.PARTIALLY_SIGNED: "Partiellement signée",
    ImmersionStatus.SIGNED: "Signée par le bénéficiaire et la structure d'accueil",
    ImmersionStatus.VALIDATED: "Validée par le prescripteur",
    ImmersionStatus.IN_PROGRESS: "En cours",
    ImmersionStatus.COMPLETED: "Terminée (bilan)",
    ImmersionStatus.REJECTED: "Refusée",
    ImmersionStatus.CANCELLED: "Annulée",
    ImmersionStatus.DEPRECATED: "Obsolète",
}


class EnrolmentStatus(enum.StrEnum):
    """Where a POEI / POEC enrolment stands."""

    ENROLLED = "enrolled"
    COMPLETED = "completed"
    ABANDONED = "abandoned"

    @property
    def label(self) -> str:
        return _ENROLMENT_STATUS_LABELS[self]


_ENROLMENT_STATUS_LABELS = {
    EnrolmentStatus.ENROLLED: "Inscrit",
    EnrolmentStatus.COMPLETED: "Formation terminée",
    EnrolmentStatus.ABANDONED: "Formation abandonnée",
}


class ImmersionEvent(EventData):
    topic: ClassVar[str] = DISPOSITIFS_EVENTS.name
    key_field: ClassVar[str] = "convention_id"

    convention_id: UUID
    referral_id: UUID | None = None
    job_seeker_id: UUID | None = None
    agency_id: str | None = None
    structure_code: str | None = None
    occurred_at: datetime


class ImmersionConventionRequested(ImmersionEvent):
    """A PMSMP convention was requested (by an agency through a referral, or a counsellor)."""

    event_type: ClassVar[str] = "coop.immersion.requested.v1"
    objet: ImmersionObjet
    start_date: date
    end_date: date
    host_name: str


class RuleBroken(BaseModel):
    """One rule a rejected immersion request breaks."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rule: str = Field(description="Stable code of the rule, e.g. pmsmp.duration.days.")
    field: str = Field(description="The request's field at fault, e.g. end_date.")
    message: str = Field(description="What is wrong, in French.")
    article: str | None = Field(default=None, description="Legal reference, when there is one.")


class ImmersionRejected(ImmersionEvent):
    """The request or convention breaks a rule or was rejected: ``reason`` says which, with its
    legal reference (``article``) when a rule of the Code du travail was broken."""

    event_type: ClassVar[str] = "coop.immersion.rejected.v1"
    reason: str
    article: str | None = None
    violations: list[RuleBroken] = Field(
        default_factory=list,
        description="Each rule broken, when the request was refused by the rules (empty when a "
        "counsellor rejected it with a justification).",
    )


class ImmersionValidated(ImmersionEvent):
    """The prescriber's counsellor validated the convention: the immersion will take place."""

    event_type: ClassVar[str] = "coop.immersion.validated.v1"
    objet: ImmersionObjet
    start_date: date
    end_date: date
    host_name: str
    tutor_name: str | None = None
    tutor_email: str | None = None


class ImmersionCancelled(ImmersionEvent):
    """The convention was cancelled (or made obsolete), with its justification."""

    event_type: ClassVar[str] = "coop.immersion.cancelled.v1"
    justification: str
    deprecated: bool = Field(
        default=False,
        description="True when the convention was made obsolete (superseded before validation, "
        "or its referral withdrawn) rather than cancelled.",
    )


class ImmersionCompleted(ImmersionEvent):
    """The immersion ended with an assessment."""

    event_type: ClassVar[str] = "coop.immersion.completed.v1"
    objectives_reached: bool
    hired: bool


class MrsEvaluated(EventData):
    """A candidate was evaluated in an MRS session (simulation-based recruitment)."""

    event_type: ClassVar[str] = "coop.mrs.evaluated.v1"
    topic: ClassVar[str] = DISPOSITIFS_EVENTS.name
    key_field: ClassVar[str] = "session_id"

    session_id: UUID
    candidate_id: UUID
    referral_id: UUID | None = None
    job_seeker_id: UUID | None = None
    rome_code: str
    positive: bool
    hired: bool | None = Field(default=None, description="The employer's decision, once known.")
    occurred_at: datetime
    contract_type: ContractType | None = Field(
        default=None, description="When hired through a placement on the referral: its contract."
    )
    placement_start_date: date | None = None


class TrainingEvent(EventData):
    topic: ClassVar[str] = DISPOSITIFS_EVENTS.name
    key_field: ClassVar[str] = "enrolment_id"

    enrolment_id: UUID
    kind: TrainingKind
    referral_id: UUID | None = None
    job_seeker_id: UUID | None = None
    occurred_at: datetime


class TrainingEnrolled(TrainingEvent):
    """A job seeker was enrolled in a POEI or POEC training."""

    event_type: ClassVar[str] = "coop.training.enrolled.v1"
    hours: int
    start_date: date
    end_date: date


class TrainingCompleted(TrainingEvent):
    """The training ended: completed or not, hired or not, with the contract that followed."""

    event_type: ClassVar[str] = "coop.training.completed.v1"
    completed: bool
    hired: bool
    contract_type: ContractType | None = None
    contract_months: int | None = Field(
        default=None, description="Length of the contract after the training (None for a CDI)."
    )

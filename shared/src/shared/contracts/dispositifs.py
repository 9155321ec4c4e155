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
    departement: str | None = Field(
        default=None,
        description="Département of the immersion (2A/2B, 97x for overseas): its public holidays "
        "count in the reminders' business days (Alsace-Moselle and the overseas départements "
        "add their own).",
    )


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
    outcome: str | None = Field(
        default=None,
        description="The tutor's assessment: completed, partially_completed or did_not_show "
        "(absent when the counsellor recorded it).",
    )
    assessed_by: str | None = Field(
        default=None, description="Who assessed: tutor (through their link) or counsellor."
    )
    job_contract_type: ContractType | None = Field(
        default=None, description="The job the host offered, if any."
    )
    job_start_date: date | None = None


class SigningLink(BaseModel):
    """One party's own link to read and sign the convention (or, for the tutor, to assess it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: str = Field(
        description="beneficiary, legal_representative, host_representative, "
        "tutor, employer or support_structure."
    )
    role_label: str = Field(description="The party, in French.")
    name: str | None = Field(default=None, description="Whom the mail greets.")
    email: str = Field(description="Where the link is mailed (the party's own address).")
    url: str = Field(description="The signed, single-party link; it expires.")
    expires_at: datetime


class ImmersionSignatureRequested(ImmersionEvent):
    """The convention is ready to sign (again): each party gets its own link by mail.

    ``reason``: ``ready`` (first time), ``modified`` (the convention was edited: every signature
    was reset, each party signs again) or ``resent`` (a party's link was sent again; its older
    link no longer works)."""

    event_type: ClassVar[str] = "coop.immersion.signature_requested.v1"
    reason: str
    host_name: str
    start_date: date
    end_date: date
    links: list[SigningLink]


class ImmersionSigned(ImmersionEvent):
    """Every party has signed through its own link: the convention awaits validation."""

    event_type: ClassVar[str] = "coop.immersion.signed.v1"
    signatories: list[str] = Field(description="The roles that signed.")


class ImmersionAssessmentRequested(ImmersionEvent):
    """The last day has come: the tutor is asked to assess through their own link (again, as a
    reminder, when ``reminder`` > 0)."""

    event_type: ClassVar[str] = "coop.immersion.assessment_requested.v1"
    host_name: str
    end_date: date
    reminder: int = 0
    links: list[SigningLink] = Field(description="The tutor's own link (one item).")


class ImmersionAssessmentShared(ImmersionEvent):
    """The tutor's assessment is recorded: the beneficiary gets their own link to read it and
    acknowledge it."""

    event_type: ClassVar[str] = "coop.immersion.assessment_shared.v1"
    host_name: str
    links: list[SigningLink] = Field(description="The beneficiary's own link (one item).")


class ImmersionIncidentReported(ImmersionEvent):
    """An incident or an accident during the immersion was reported: the prescriber is told
    within the day. The description stays in the dispositifs service (read it there)."""

    event_type: ClassVar[str] = "coop.immersion.incident_reported.v1"
    incident_id: UUID
    kind: str = Field(description="accident or incident.")
    occurred_on: date
    reported_by: str = Field(description="The role that reported it (tutor, beneficiary…).")
    counsellor_id: str | None = Field(
        default=None, description="The prescriber's counsellor following the convention."
    )


class ImmersionErrorReported(ImmersionEvent):
    """A party pointed out an error in the convention on its signing page, instead of signing:
    the prescriber's counsellor is told at once, to correct it (which resets the signatures).
    What the party wrote stays in the dispositifs service (read it there)."""

    event_type: ClassVar[str] = "coop.immersion.error_reported.v1"
    reported_by: str = Field(description="The party that reported it (beneficiary, tutor…).")
    counsellor_id: str | None = Field(
        default=None, description="The prescriber's counsellor following the convention."
    )


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

"""The dispositifs service's tables (its own store; no other service reads them).

Check constraints keep states and fields consistent in the database too (a completed convention
has its assessment, a rejected or cancelled one its justification…).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dispositifs.domain.immersion import Actor, PrescriberKind
from dispositifs.domain.offer_request import OfferRequestStatus
from dispositifs.domain.pathway import ProposalStatus, ProposalTrigger, Scheme
from dispositifs.domain.training import PoeiMode, TargetedPublic
from shared.contracts.dispositifs import EnrolmentStatus, ImmersionStatus
from shared.contracts.vocabulary import ContractType, ImmersionObjet, TrainingKind
from shared.db.naming import NAMING_CONVENTION
from shared.db.projections import KnownReferralColumns
from shared.db.tables import BigIntId, UTCDateTime, platform_tables
from shared.messaging.outbox import Outbox


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


PLATFORM = platform_tables(Base.metadata)
#: The CloudEvents ``source`` of every event this service produces.
EVENT_SOURCE = "/coop/dispositifs"
OUTBOX = Outbox(PLATFORM, EVENT_SOURCE)


def _in(column: str, values: Iterable[enum.Enum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def _in_or_null(column: str, values: Iterable[enum.Enum]) -> str:
    return f"{column} IS NULL OR {_in(column, values)}"


class KnownReferral(KnownReferralColumns, Base):
    """A referral this service heard of, so immersions and training can be linked to it, and
    what became of it (placement) to close the loop on outcomes."""

    __tablename__ = "known_referrals"
    __table_args__ = (
        Index("ix_known_referrals_agency_id", "agency_id"),
        Index("ix_known_referrals_job_seeker_id", "job_seeker_id"),
    )

    job_seeker_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    departement: Mapped[str | None] = mapped_column(String(3))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    offer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: Last status the referral service reported.
    status: Mapped[str | None] = mapped_column(String(32))
    placed_on: Mapped[date | None] = mapped_column(Date)
    placement_contract_type: Mapped[str | None] = mapped_column(String(32))
    #: The referral's priority publics as the referral service computed them (``referral.sent``;
    #: never RQTH): a POEI's higher cap may follow from them (France Travail's rule).
    priority_publics: Mapped[list[str] | None] = mapped_column(JSON)


class ImmersionConvention(Base):
    """A PMSMP convention with the mandatory content of D5135-2."""

    __tablename__ = "immersion_conventions"
    __table_args__ = (
        CheckConstraint(_in("status", ImmersionStatus), name="status_known"),
        CheckConstraint(_in("objet", ImmersionObjet), name="objet_known"),
        CheckConstraint(_in("origin", (Actor.AGENCY, Actor.COUNSELLOR)), name="origin_known"),
        CheckConstraint(_in_or_null("prescriber_kind", PrescriberKind), name="prescriber_known"),
        CheckConstraint("end_date >= start_date OR status = 'rejected'", name="dates_ordered"),
        CheckConstraint(
            "status <> 'completed' OR (objectives_reached IS NOT NULL AND hired IS NOT NULL)",
            name="completed_has_assessment",
        ),
        CheckConstraint(
            "status NOT IN ('rejected', 'cancelled', 'deprecated') OR justification IS NOT NULL",
            name="justified",
        ),
        Index("ix_immersion_conventions_structure_created", "structure_code", "created_at", "id"),
        Index("ix_immersion_conventions_created", "created_at", "id"),
        Index("ix_immersion_conventions_pair", "job_seeker_id", "host_siret"),
        Index("ix_immersion_conventions_region_start", "region_code", "start_date"),
        Index("ix_immersion_conventions_status_created", "status", "created_at", "id"),
        Index(
            "ix_immersion_conventions_structure_status_created",
            "structure_code",
            "status",
            "created_at",
            "id",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    job_seeker_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agency_id: Mapped[str | None] = mapped_column(String(64))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    counsellor_id: Mapped[str | None] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    rome_code: Mapped[str | None] = mapped_column(String(5))
    objet: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    weekly_hours: Mapped[float | None] = mapped_column(Float)
    schedule: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(300))
    departement: Mapped[str | None] = mapped_column(String(3))
    region_code: Mapped[str | None] = mapped_column(String(3))
    objectives: Mapped[str | None] = mapped_column(Text)
    evaluation_method: Mapped[str | None] = mapped_column(Text)
    tasks: Mapped[str | None] = mapped_column(Text)
    prescriber_kind: Mapped[str | None] = mapped_column(String(32))
    prescriber_name: Mapped[str | None] = mapped_column(String(200))
    beneficiary_first_name: Mapped[str | None] = mapped_column(String(100))
    beneficiary_last_name: Mapped[str | None] = mapped_column(String(100))
    beneficiary_birth_date: Mapped[date | None] = mapped_column(Date)
    beneficiary_professional_situation: Mapped[str | None] = mapped_column(String(200))
    beneficiary_brsa: Mapped[bool | None] = mapped_column(Boolean)
    host_name: Mapped[str] = mapped_column(String(200))
    host_siret: Mapped[str] = mapped_column(String(14))
    host_address: Mapped[str | None] = mapped_column(String(300))
    host_legal_form: Mapped[str | None] = mapped_column(String(100))
    host_activity: Mapped[str | None] = mapped_column(String(200))
    host_collective_agreement: Mapped[str | None] = mapped_column(String(200))
    tutor_name: Mapped[str | None] = mapped_column(String(200))
    tutor_function: Mapped[str | None] = mapped_column(String(200))
    tutor_email: Mapped[str | None] = mapped_column(String(254))
    support_structure: Mapped[str | None] = mapped_column(String(200))
    support_referent: Mapped[str | None] = mapped_column(String(200))
    renewal_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("immersion_conventions.id"), index=True
    )
    beneficiary_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    host_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    validated_by: Mapped[str | None] = mapped_column(String(255))
    objectives_reached: Mapped[bool | None] = mapped_column(Boolean)
    hired: Mapped[bool | None] = mapped_column(Boolean)
    assessment: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    justification: Mapped[str | None] = mapped_column(Text)
    #: A placement reported on the referral after the immersion (closing the loop).
    placed_on: Mapped[date | None] = mapped_column(Date)
    placement_contract_type: Mapped[str | None] = mapped_column(String(32))
    #: The event of the agency's request, when it came over Kafka.
    request_event_id: Mapped[str | None] = mapped_column(String(64))
    # -- issue 13: parties who sign by their own link, schedule, host declarations, assessment
    #: The structured weekly schedule: ``[{"day", "periods": [{"start", "end"}]}]``.
    schedule_plan: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: The host's declarations of the uses excluded by L5135-4 (name → true).
    host_declarations: Mapped[dict[str, bool] | None] = mapped_column(JSON)
    beneficiary_email: Mapped[str | None] = mapped_column(String(254))
    beneficiary_salaried: Mapped[bool | None] = mapped_column(Boolean)
    host_representative_name: Mapped[str | None] = mapped_column(String(200))
    host_representative_function: Mapped[str | None] = mapped_column(String(200))
    host_representative_email: Mapped[str | None] = mapped_column(String(254))
    legal_representative_name: Mapped[str | None] = mapped_column(String(200))
    legal_representative_email: Mapped[str | None] = mapped_column(String(254))
    employer_name: Mapped[str | None] = mapped_column(String(200))
    employer_email: Mapped[str | None] = mapped_column(String(254))
    support_email: Mapped[str | None] = mapped_column(String(254))
    renewal_justification: Mapped[str | None] = mapped_column(Text)
    #: The tutor's assessment (``AssessmentOutcome``) and who recorded it.
    assessment_outcome: Mapped[str | None] = mapped_column(String(32))
    assessed_by: Mapped[str | None] = mapped_column(String(32))
    assessment_last_day: Mapped[date | None] = mapped_column(Date)
    assessment_missed_hours: Mapped[float | None] = mapped_column(Float)
    job_contract_type: Mapped[str | None] = mapped_column(String(32))
    job_start_date: Mapped[date | None] = mapped_column(Date)
    assessment_link_nonce: Mapped[str | None] = mapped_column(String(32))
    assessment_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assessment_reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    assessment_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Two-step review: the counsellor's pre-validation, before a validator decides.
    pre_validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pre_validated_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    transitions: Mapped[list[ImmersionTransition]] = relationship(
        order_by="ImmersionTransition.id", lazy="raise"
    )
    signatories: Mapped[list[ImmersionSignatory]] = relationship(
        order_by="ImmersionSignatory.position", lazy="raise", viewonly=True
    )
    incidents: Mapped[list[ImmersionIncident]] = relationship(
        order_by="ImmersionIncident.reported_at", lazy="raise", viewonly=True
    )

    def content(self) -> dict[str, Any]:
        """The mandatory content of D5135-2, keyed as the API names it."""
        return {
            "prescriber.kind": self.prescriber_kind,
            "prescriber.name": self.prescriber_name,
            "beneficiary.first_name": self.beneficiary_first_name,
            "beneficiary.last_name": self.beneficiary_last_name,
            "beneficiary.birth_date": self.beneficiary_birth_date,
            "beneficiary.professional_situation": self.beneficiary_professional_situation,
            "host.name": self.host_name,
            "host.siret": self.host_siret,
            "host.address": self.host_address,
            "host.legal_form": self.host_legal_form,
            "host.activity": self.host_activity,
            "host.collective_agreement": self.host_collective_agreement,
            "tutor.name": self.tutor_name,
            "tutor.function": self.tutor_function,
            "support.structure": self.support_structure,
            "support.referent": self.support_referent,
            "place": self.place,
            "weekly_hours": self.weekly_hours,
            "schedule": self.schedule or (self.schedule_plan or None),
            "objectives": self.objectives,
            "evaluation_method": self.evaluation_method,
            "tasks": self.tasks,
        }


class ImmersionSignatory(Base):
    """A party who signs the convention through its own link (issue 13): who, where the link
    went, which link is current, when and from which link they signed, or the error they
    pointed out."""

    __tablename__ = "immersion_signatories"
    __table_args__ = (UniqueConstraint("convention_id", "role", name="one_per_role"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    convention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("immersion_conventions.id"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    #: The nonce of the party's current link (a re-sent link draws a new one).
    link_nonce: Mapped[str] = mapped_column(String(32))
    link_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    links_sent: Mapped[int] = mapped_column(Integer, default=1)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The nonce of the link the party signed from.
    signed_with: Mapped[str | None] = mapped_column(String(32))
    error_report: Mapped[str | None] = mapped_column(Text)
    error_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImmersionIncident(Base):
    """An incident or accident during the immersion, reported to the prescriber."""

    __tablename__ = "immersion_incidents"
    __table_args__ = (CheckConstraint("kind IN ('accident', 'incident')", name="kind_known"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    convention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("immersion_conventions.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImmersionTransition(Base):
    """The convention's transition log (who, from, to, when, why)."""

    __tablename__ = "immersion_transitions"
    __table_args__ = (
        CheckConstraint(_in("to_status", ImmersionStatus), name="to_status_known"),
        CheckConstraint(_in("actor", Actor), name="actor_known"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    convention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("immersion_conventions.id"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str | None] = mapped_column(String(64))


class MrsSession(Base):
    __tablename__ = "mrs_sessions"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        Index("ix_mrs_sessions_created", "created_at", "id"),
        Index("ix_mrs_sessions_structure_created", "structure_code", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    employer_name: Mapped[str] = mapped_column(String(200))
    employer_siret: Mapped[str] = mapped_column(String(14))
    rome_code: Mapped[str] = mapped_column(String(5))
    habiletes: Mapped[list[str]] = mapped_column(JSON)
    session_date: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    departement: Mapped[str] = mapped_column(String(3))
    region_code: Mapped[str | None] = mapped_column(String(3), index=True)
    structure_code: Mapped[str | None] = mapped_column(String(32), index=True)
    counsellor_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    candidates: Mapped[list[MrsCandidate]] = relationship(
        order_by="MrsCandidate.registered_at", lazy="raise"
    )


class MrsCandidate(Base):
    __tablename__ = "mrs_candidates"
    __table_args__ = (
        UniqueConstraint("session_id", "job_seeker_id", name="uq_mrs_candidates_session_seeker"),
        CheckConstraint("hired IS NULL OR positive", name="hired_only_if_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mrs_sessions.id"), index=True)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Habileté code → acquired.
    results: Mapped[dict[str, bool] | None] = mapped_column(JSON)
    positive: Mapped[bool | None] = mapped_column(Boolean)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hired: Mapped[bool | None] = mapped_column(Boolean)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    placed_on: Mapped[date | None] = mapped_column(Date)
    placement_contract_type: Mapped[str | None] = mapped_column(String(32))


class PoecSession(Base):
    """A POEC training action opened by a branch's OPCO."""

    __tablename__ = "poec_sessions"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        Index("ix_poec_sessions_created", "created_at", "id"),
        Index("ix_poec_sessions_rome_start", "rome_code", "start_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    opco: Mapped[str] = mapped_column(String(100))
    branch: Mapped[str] = mapped_column(String(200))
    temporary_work: Mapped[bool] = mapped_column(Boolean)
    rome_code: Mapped[str] = mapped_column(String(5))
    departement: Mapped[str] = mapped_column(String(3))
    region_code: Mapped[str | None] = mapped_column(String(3))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    total_hours: Mapped[int] = mapped_column(Integer)
    company_hours: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    structure_code: Mapped[str | None] = mapped_column(String(32))
    counsellor_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TrainingEnrolment(Base):
    """A job seeker's POEI or POEC."""

    __tablename__ = "training_enrolments"
    __table_args__ = (
        CheckConstraint(_in("kind", TrainingKind), name="kind_known"),
        CheckConstraint(_in("status", EnrolmentStatus), name="status_known"),
        CheckConstraint(_in_or_null("poei_mode", PoeiMode), name="poei_mode_known"),
        CheckConstraint(_in_or_null("targeted_public", TargetedPublic), name="public_known"),
        CheckConstraint(
            _in_or_null("expected_contract_type", ContractType), name="expected_contract_known"
        ),
        CheckConstraint(_in_or_null("contract_type", ContractType), name="contract_known"),
        CheckConstraint(
            "kind <> 'poei' OR (offer_id IS NOT NULL AND poei_mode IS NOT NULL "
            "AND expected_contract_type IS NOT NULL)",
            name="poei_terms",
        ),
        CheckConstraint("kind <> 'poec' OR poec_session_id IS NOT NULL", name="poec_session"),
        CheckConstraint("status <> 'completed' OR hired IS NOT NULL", name="completed_outcome"),
        UniqueConstraint(
            "poec_session_id", "job_seeker_id", name="uq_training_enrolments_session_seeker"
        ),
        Index("ix_training_enrolments_created", "created_at", "id"),
        Index("ix_training_enrolments_region_start", "region_code", "start_date"),
        Index("ix_training_enrolments_structure_created", "structure_code", "created_at", "id"),
        Index("ix_training_enrolments_kind_created", "kind", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    structure_code: Mapped[str | None] = mapped_column(String(32), index=True)
    counsellor_id: Mapped[str] = mapped_column(String(255))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[int] = mapped_column(Integer)
    departement: Mapped[str | None] = mapped_column(String(3))
    region_code: Mapped[str | None] = mapped_column(String(3))
    # POEI
    poei_mode: Mapped[str | None] = mapped_column(String(16))
    targeted_public: Mapped[str | None] = mapped_column(String(16))
    offer_id: Mapped[str | None] = mapped_column(String(64))
    employer_name: Mapped[str | None] = mapped_column(String(200))
    employer_siret: Mapped[str | None] = mapped_column(String(14))
    expected_contract_type: Mapped[str | None] = mapped_column(String(32))
    expected_contract_months: Mapped[int | None] = mapped_column(Integer)
    expected_missions_total_months: Mapped[int | None] = mapped_column(Integer)
    # POEC
    poec_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("poec_sessions.id"), index=True
    )
    # Completion and outcome
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hired: Mapped[bool | None] = mapped_column(Boolean)
    contract_type: Mapped[str | None] = mapped_column(String(32))
    contract_months: Mapped[int | None] = mapped_column(Integer)
    placed_on: Mapped[date | None] = mapped_column(Date)
    placement_contract_type: Mapped[str | None] = mapped_column(String(32))
    #: A completed POEC in temporary work: the trainee is to be given missions after it
    #: (L6326-3), followed up with :class:`TrainingMission`.
    missions_expected: Mapped[bool | None] = mapped_column(Boolean)
    #: How many missions were recorded after it, and when the first one started.
    missions_given: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_mission_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TrainingMission(Base):
    """A contrat de mission given after a temporary-work POEC (the follow-up of L6326-3's duty
    to give missions), recorded by the counsellor."""

    __tablename__ = "training_missions"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates_ordered"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    enrolment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_enrolments.id"), index=True
    )
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PathwayProposal(Base):
    """A scheme proposed to close a skills gap, and the counsellor's decision."""

    __tablename__ = "pathway_proposals"
    __table_args__ = (
        CheckConstraint(_in("trigger", ProposalTrigger), name="trigger_known"),
        CheckConstraint(_in("scheme", Scheme), name="scheme_known"),
        CheckConstraint(_in("status", ProposalStatus), name="status_known"),
        Index("ix_pathway_proposals_created", "created_at", "id"),
        Index("ix_pathway_proposals_structure_created", "structure_code", "created_at", "id"),
        Index("ix_pathway_proposals_status_created", "status", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    structure_code: Mapped[str | None] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(String(32))
    scheme: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    poec_session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("poec_sessions.id"))
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OfferSchemeRequest(Base):
    """An agency's request for a PMSMP, an MRS or a POEI on a hard-to-fill offer (issue 16,
    item 5; ``coop.offer.scheme_requested.v1``), open for the offer's structure's counsellors.
    No candidate yet: no personal data (``dispositifs/use_cases/offer_requests.py``)."""

    __tablename__ = "offer_scheme_requests"
    __table_args__ = (
        CheckConstraint(_in("status", OfferRequestStatus), name="status_known"),
        CheckConstraint("scheme IN ('pmsmp', 'mrs', 'poei')", name="scheme_known"),
        Index("ix_offer_scheme_requests_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: The referral service's applied answer: one request per answer (a redelivery is a no-op).
    answer_id: Mapped[int] = mapped_column(Integer, unique=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    scheme: Mapped[str] = mapped_column(String(8))
    agency_id: Mapped[str] = mapped_column(String(64))
    network_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    rome_code: Mapped[str] = mapped_column(String(5))
    departement: Mapped[str] = mapped_column(String(3))
    region_code: Mapped[str] = mapped_column(String(3))
    hard_to_fill_source: Mapped[str] = mapped_column(String(16))
    structure_code: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

"""The referral service's tables (its own store; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from referral.domain import (
    OPEN_STATUSES,
    Action,
    Actor,
    ConsentScope,
    HardToFillSource,
    PriorityPublic,
    PriorToHireAction,
    ReferralStatus,
    Scheme,
)
from referral.domain.conventions import Axis, ConventionScope
from referral.domain.indicators import MEASURES
from shared.contracts.vocabulary import ContractType, DeclineReason
from shared.db.naming import NAMING_CONVENTION
from shared.db.tables import BigIntId, UTCDateTime, platform_tables
from shared.messaging.outbox import Outbox


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


PLATFORM = platform_tables(Base.metadata)

#: CloudEvents ``source`` of every event this service produces.
EVENT_SOURCE = "/coop/referral"
#: The one way use cases stage events: in their transaction, published once it commits.
OUTBOX = Outbox(PLATFORM, EVENT_SOURCE)


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"  # type: ignore[attr-defined]


def _sorted(values: frozenset[ReferralStatus]) -> list[ReferralStatus]:
    return sorted(values, key=list(ReferralStatus).index)


#: The predicate of the partial unique indexes: "open" as the domain defines it.
_OPEN = _in("status", _sorted(OPEN_STATUSES))


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    network_id: Mapped[str] = mapped_column(String(64), index=True)
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    address: Mapped[str | None] = mapped_column(String(300))
    departement: Mapped[str] = mapped_column(String(3), index=True)
    #: From the départements referential (INSEE COG), kept with the row to search by région.
    region: Mapped[str] = mapped_column(String(3), index=True)
    #: Contact address for notifications.
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    # The directory at the network's scale (issue 16, item 6): where the agency is, and the
    # contact its network keeps up to date (bulk import, ``use_cases/directory_import.py``).
    commune: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(5))
    #: WGS 84 degrees, for proximity by distance (``domain/suggestion.py``).
    latitude: Mapped[float | None] = mapped_column(Float, index=True)
    longitude: Mapped[float | None] = mapped_column(Float)
    #: A professional contact of the agency (its desk, or a named person at it).
    contact_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    #: When the network's import or contact update last changed the row.
    directory_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    specialisations: Mapped[list[AgencySpecialisation]] = relationship(
        order_by="AgencySpecialisation.rome_code", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def rome_codes(self) -> list[str]:
        return [s.rome_code for s in self.specialisations]


class AgencySpecialisation(Base):
    __tablename__ = "agency_specialisations"

    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    rome_code: Mapped[str] = mapped_column(String(5), primary_key=True, index=True)


class JobSeeker(Base):
    """France Travail side, minimal. Never a NIR (décret 2019-341)."""

    __tablename__ = "job_seekers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ft_identifier: Mapped[str] = mapped_column(String(11), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date | None] = mapped_column(Date)
    departement: Mapped[str | None] = mapped_column(String(3))
    # Priority-public flags the counsellor records; jeune and senior are computed from birth_date.
    rqth: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    brsa: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    deld: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    qpv: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    #: Registration with France Travail: DELD is derived from it (12 months or more) when known.
    ft_registration_date: Mapped[date | None] = mapped_column(Date)
    #: The France Travail structure of the counsellor who created the record.
    structure_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    #: The organisations it was shared with ("prise en charge"), read by the access policy.
    shares: Mapped[list[JobSeekerShare]] = relationship(
        lazy="selectin", order_by="JobSeekerShare.created_at"
    )


class Consent(Base):
    """What a job seeker agreed to (identity or RQTH to one agency for one referral; contact by
    the platform), when (server time), recorded by whom, through which channel, after which text.
    An agency consent without ``referral_id`` waits for the next referral to that agency, which
    takes it; a referral's consents serve it alone."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(_in("scope", ConsentScope), name="scope_known"),
        Index("ix_consents_lookup", "job_seeker_id", "agency_id", "scope"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_seekers.id"))
    #: None for the platform's own consent (contact).
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"))
    scope: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(255))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(255))
    #: The referral this consent serves (set when recorded for it, or when a referral takes it).
    referral_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: in_person | phone | written (None on records older than the evidence).
    channel: Mapped[str | None] = mapped_column(String(16))
    #: The version of the consent text read to the job seeker (``domain.consent.CONSENT_TEXTS``).
    text_version: Mapped[str | None] = mapped_column(String(32))


class JobOffer(Base):
    __tablename__ = "job_offers"
    __table_args__ = (
        CheckConstraint(_in("contract_type", ContractType), name="contract_type_known"),
        CheckConstraint(
            _in("hard_to_fill_source", HardToFillSource), name="hard_to_fill_source_known"
        ),
        # A hard-to-fill flag always says where it comes from, and only then.
        CheckConstraint(
            "(hard_to_fill AND hard_to_fill_source IS NOT NULL)"
            " OR (NOT hard_to_fill AND hard_to_fill_source IS NULL)",
            name="hard_to_fill_has_source",
        ),
        CheckConstraint("posts >= 1", name="posts_positive"),
        Index("ix_job_offers_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    rome_code: Mapped[str] = mapped_column(String(5), index=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    region: Mapped[str] = mapped_column(String(3))
    contract_type: Mapped[str] = mapped_column(String(32))
    posts: Mapped[int] = mapped_column(Integer)
    hard_to_fill: Mapped[bool] = mapped_column(Boolean)
    hard_to_fill_source: Mapped[str | None] = mapped_column(String(16))
    ft_offer_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_by: Mapped[str] = mapped_column(String(255))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Where the job is (France Travail's lieuTravail), for matching nearby (issue 16).
    commune: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(_in("status", ReferralStatus), name="status_known"),
        CheckConstraint(_in("decline_reason", DeclineReason), name="decline_reason_known"),
        CheckConstraint(
            _in("placement_contract_type", ContractType), name="placement_contract_type_known"
        ),
        CheckConstraint(
            _in("prior_to_hire_action", PriorToHireAction), name="prior_to_hire_action_known"
        ),
        Index("ix_referrals_structure_created", "structure_code", "created_at", "id"),
        Index("ix_referrals_created", "created_at", "id"),
        Index("ix_referrals_status_created", "status", "created_at"),
        # One open referral per job seeker, agency and offer, in the database too. Two partial
        # indexes because NULLs are distinct in a unique index (SQLite and PostgreSQL alike): a
        # referral without an offer is unique per job seeker, agency and ROME code.
        Index(
            "uq_referrals_open_per_offer",
            "job_seeker_id",
            "agency_id",
            "offer_id",
            unique=True,
            sqlite_where=text(f"offer_id IS NOT NULL AND {_OPEN}"),
            postgresql_where=text(f"offer_id IS NOT NULL AND {_OPEN}"),
        ),
        Index(
            "uq_referrals_open_without_offer",
            "job_seeker_id",
            "agency_id",
            "rome_code",
            unique=True,
            sqlite_where=text(f"offer_id IS NULL AND {_OPEN}"),
            postgresql_where=text(f"offer_id IS NULL AND {_OPEN}"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_seekers.id"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    network_id: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job_offers.id"))
    rome_code: Mapped[str] = mapped_column(String(5))
    #: The territory of the referral: the offer's département, else the agency's.
    departement: Mapped[str | None] = mapped_column(String(3))
    region: Mapped[str | None] = mapped_column(String(3))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    counsellor_id: Mapped[str] = mapped_column(String(255))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    # The job seeker's priority publics when the referral was sent (indicators count them so).
    public_rqth: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    public_brsa: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    public_jeune: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    public_senior: Mapped[bool] = mapped_column(
        Boolean, server_default=text("false"), default=False
    )
    public_deld: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    public_qpv: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    #: What the counsellor chose to share with the agency, each checked against a consent.
    identity_shared: Mapped[bool] = mapped_column(
        Boolean, server_default=text("false"), default=False
    )
    rqth_shared: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # Facts of the lifecycle, kept on the row for the indicators and the suggestion.
    first_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    placement_contract_type: Mapped[str | None] = mapped_column(String(32))
    placement_start_date: Mapped[date | None] = mapped_column(Date)
    placement_expected_end_date: Mapped[date | None] = mapped_column(Date)
    placement_weekly_hours: Mapped[float | None] = mapped_column(Float)
    placement_end_date: Mapped[date | None] = mapped_column(Date)
    #: Since when the agency's answer is awaited (sent, re-opened, transferred): the expiry's
    #: delay runs from it.
    awaiting_answer_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Postponed ("en attente"): the day the agency will come back to it.
    postponed_until: Mapped[date | None] = mapped_column(Date)
    #: In the agency's pool (vivier): for these trades (ROME codes).
    pool_rome_codes: Mapped[list[str] | None] = mapped_column(JSON)
    #: The action before hiring (pmsmp, mrs, poei).
    prior_to_hire_action: Mapped[str | None] = mapped_column(String(16))
    #: The agency it was transferred from (the last one).
    transferred_from_agency_id: Mapped[str | None] = mapped_column(String(64))
    #: The agency's last applied answer (staleness: "no news" since then).
    last_news_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Staleness: the reminder sent to the agency for want of news.
    stale_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Outcome follow-up: the last milestone (months) asked, and the last one answered
    #: "still employed" (6: durable employment measured).
    follow_up_asked_months: Mapped[int | None] = mapped_column(Integer)
    still_employed_months: Mapped[int | None] = mapped_column(Integer)
    follow_up_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    transitions: Mapped[list[ReferralTransition]] = relationship(
        order_by="ReferralTransition.id", lazy="raise"
    )

    @property
    def priority_publics(self) -> list[PriorityPublic]:
        return [p for p in PriorityPublic if getattr(self, f"public_{p.value}")]


class ReferralTransition(Base):
    """The transition log: the referral's timeline as users see it."""

    __tablename__ = "referral_transitions"
    __table_args__ = (
        CheckConstraint(_in("to_status", ReferralStatus), name="to_status_known"),
        CheckConstraint(_in("action", Action), name="action_known"),
        CheckConstraint(_in("actor", Actor), name="actor_known"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)
    #: Why: a decline reason code, the counsellor's withdrawal reason…
    reason: Mapped[str | None] = mapped_column(String(500))
    #: The answer's own fields (interview time, contract, immersion dates…).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The event that caused it, when it came from Kafka.
    event_id: Mapped[str | None] = mapped_column(String(64))


class ReferralSchemeEvent(Base):
    """A dispositifs event (immersion, MRS, training) about a referral, for its timeline and the
    indicators."""

    __tablename__ = "referral_scheme_events"
    __table_args__ = (CheckConstraint(_in("scheme", Scheme), name="scheme_known"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(200))
    scheme: Mapped[str] = mapped_column(String(16))
    #: The convention, MRS session or enrolment id in the dispositifs service.
    scheme_ref: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text)
    #: Whether the event reports a hire (immersion completed, MRS, training), when it says.
    hired: Mapped[bool | None] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Network(Base):
    """An agency network (enseigne). Onboarding one provisions its feed and response topics."""

    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    onboarded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefusedResponse(Base):
    """Audit log of agency answers that were not applied (dead-lettered), forged ones first of
    all: an answer on network X's topic about a referral not addressed to X, or naming an agency
    that does not belong to X."""

    __tablename__ = "refused_responses"
    __table_args__ = (
        Index("ix_refused_responses_network_recorded", "network_id", "recorded_at"),
        # One audit row per record: a redelivery (offset commit lost) is not audited twice.
        UniqueConstraint("topic", "partition", "offset", name="uq_refused_responses_record"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    event_type: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(249))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    #: The network whose topic carried it (None if the topic is not a network's).
    network_id: Mapped[str | None] = mapped_column(String(64))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    referral_id: Mapped[str | None] = mapped_column(String(64))
    #: forbidden (another network's referral or agency) | not_allowed | invalid | other
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class JobSeekerShare(Base):
    """A "prise en charge": the organisation that owns a job seeker's record lets another
    prescribing organisation act on it (see it in full, record consents, refer it). Logged: who
    shared, from which organisation, why, when."""

    __tablename__ = "job_seeker_shares"
    __table_args__ = (
        UniqueConstraint("job_seeker_id", "organisation", name="uq_job_seeker_shares_organisation"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_seekers.id"), index=True)
    #: The organisation it is shared with (``shared.auth.tokens.organisation_key``).
    organisation: Mapped[str] = mapped_column(String(32))
    shared_by: Mapped[str] = mapped_column(String(255))
    shared_by_organisation: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonalDataAccess(Base):
    """Audit of personal-data access (issue 10, item 9): every read or change of a job seeker's
    record, of its consents, and every identity-bearing export — who, from which organisation,
    what, when, why. Never the personal data itself: ids and codes only."""

    __tablename__ = "personal_data_access"
    __table_args__ = (
        Index("ix_personal_data_access_occurred", "occurred_at", "id"),
        Index("ix_personal_data_access_job_seeker", "job_seeker_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(32))
    #: read | list | create | update | share | refer | consent_read | consent_record | …
    action: Mapped[str] = mapped_column(String(32))
    #: job_seeker | consent | referral
    resource: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    #: Whose record (no foreign key: the audit outlives the record's erasure).
    job_seeker_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: full | masked, for reads.
    view: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))


class ErasureRequest(Base):
    """A DPO's request to erase a job seeker (GDPR art. 17), and its progress per service."""

    __tablename__ = "erasure_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The networks that received the person and were sent an erasure instruction.
    networks: Mapped[list[str]] = mapped_column(JSON)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ErasureReport(Base):
    """What one service did for an erasure request (its ``erasure_completed`` answer)."""

    __tablename__ = "erasure_reports"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("erasure_requests.id"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ArchiveNotice(Base):
    """The notice to the owning structure that an inactive record will be anonymised."""

    __tablename__ = "archive_notices"

    job_seeker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_seekers.id"), primary_key=True)
    structure_code: Mapped[str | None] = mapped_column(String(32))
    inactive_since: Mapped[datetime] = mapped_column(UTCDateTime())
    noticed_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- regional conventions (issue 16, item 1) ----------------------------------------------------


class Convention(Base):
    """A convention France Travail × Prism'emploi: the national one, or a région's with its
    period, its signatory networks and its targets (``domain.conventions``). No personal data."""

    __tablename__ = "conventions"
    __table_args__ = (
        CheckConstraint(_in("scope", ConventionScope), name="scope_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint(
            "(scope = 'regional' AND region IS NOT NULL)"
            " OR (scope = 'national' AND region IS NULL)",
            name="region_matches_scope",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(3), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    #: The signatory networks' ids (empty: every network).
    networks: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    targets: Mapped[list[ConventionTarget]] = relationship(
        order_by="ConventionTarget.axis", lazy="selectin", cascade="all, delete-orphan"
    )


class ConventionTarget(Base):
    """One target of a convention: a count, or a share in % for ``priority_public_share``."""

    __tablename__ = "convention_targets"
    __table_args__ = (
        CheckConstraint(_in("axis", Axis), name="axis_known"),
        CheckConstraint("target >= 0", name="target_not_negative"),
    )

    convention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conventions.id", ondelete="CASCADE"), primary_key=True
    )
    axis: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[float] = mapped_column(Float)


#: The steering indicators read referrals by territory or network over a period: one range scan.
Index("ix_referrals_region_created", Referral.region, Referral.created_at)
Index("ix_referrals_updated", Referral.updated_at)
Index("ix_referrals_agency_created", Referral.agency_id, Referral.created_at, Referral.id)
Index("ix_referral_transitions_recorded", ReferralTransition.recorded_at)
Index("ix_referral_scheme_events_recorded", ReferralSchemeEvent.recorded_at)
Index("ix_referrals_network_created", Referral.network_id, Referral.created_at)


class OfferPublication(Base):
    """A hard-to-fill offer published on one network's feed (issue 16, item 5): which networks
    were told, so that only they may answer it."""

    __tablename__ = "offer_publications"

    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_offers.id"), primary_key=True)
    network_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The network's agencies in the territory and trade when it was published.
    agency_ids: Mapped[list[str]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OfferAnswer(Base):
    """An agency's answer to a hard-to-fill offer (``use_cases/offer_answers.py``): the fact the
    indicators count under axis 2 (hard-to-fill offers answered), with the offer's dimensions
    copied so that a count needs no join."""

    __tablename__ = "offer_answers"
    __table_args__ = (
        CheckConstraint(
            "answer IN ('has_candidates', 'request_pmsmp', 'request_mrs', 'request_poei')",
            name="answer_known",
        ),
        Index("ix_offer_answers_answered", "answered_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_offers.id"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    network_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(32))
    candidates: Mapped[int | None] = mapped_column(Integer)
    rome_code: Mapped[str] = mapped_column(String(5))
    departement: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(3))
    hard_to_fill_source: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class JobDating(Base):
    """A job dating or an open day (issue 16, item 4): a date, a place, agencies with their
    offers, slots; organised by a prescribing organisation, whose counsellors invite job seekers
    (``use_cases/job_datings.py``)."""

    __tablename__ = "job_datings"
    __table_args__ = (
        CheckConstraint("kind IN ('job_dating', 'open_day')", name="kind_known"),
        Index("ix_job_datings_structure_starts", "structure_code", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(String(300))
    departement: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(3))
    #: The trade the referrals are for (an agency's offer gives its own).
    rome_code: Mapped[str] = mapped_column(String(5))
    #: The interview slots, ISO 8601 times (JSON list).
    slots: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(255))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    agencies: Mapped[list[JobDatingAgency]] = relationship(
        lazy="selectin", order_by="JobDatingAgency.agency_id", cascade="all, delete-orphan"
    )


class JobDatingAgency(Base):
    __tablename__ = "job_dating_agencies"

    job_dating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_datings.id"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("job_offers.id"))


class JobDatingInvitation(Base):
    """One job seeker invited to a job dating with one agency: a referral of its own (consent
    rules apply), its slot, and whether they came. The fact the indicators read for "job
    datings: invited, came, hired" (hired: the referral's ``placed_at``)."""

    __tablename__ = "job_dating_invitations"
    __table_args__ = (
        CheckConstraint("attendance IN ('came', 'did_not_come')", name="attendance_known"),
        UniqueConstraint("job_dating_id", "job_seeker_id", name="uq_job_dating_invitations_seeker"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_dating_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_datings.id"), index=True)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_seekers.id"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), unique=True)
    slot: Mapped[str | None] = mapped_column(String(32))
    attendance: Mapped[str | None] = mapped_column(String(16))
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attendance_recorded_by: Mapped[str | None] = mapped_column(String(255))
    invited_by: Mapped[str] = mapped_column(String(255))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- the indicators' maintained aggregates (issue 14, item 7) -------------------------------------
# Anonymous counts: no job seeker, no referral in the cells. Kept by
# ``use_cases.indicator_facts`` (a periodic fold; ``python -m referral rebuild-facts``), never on
# the sending path; erasure and archive leave them alone (past figures do not change).

#: ``grain`` ``d``: ``period`` is the day the referrals were sent; ``m``: the first of the month.
#: ``scope``: the sending structure ("" without one); ``dimension``: ``total`` or a grouping.
_CELL_KEY = ("dimension", "grain", "period", "scope", "value")


def _cell_columns() -> list[Column[Any]]:
    return [
        Column("id", BigIntId, primary_key=True, autoincrement=True),
        Column("dimension", String(32), nullable=False),
        Column("grain", String(1), nullable=False),
        Column("period", Date, nullable=False),
        Column("scope", String(32), nullable=False),
        Column("value", String(64), nullable=False),
    ]


indicator_cells = Table(
    "indicator_cells",
    Base.metadata,
    *_cell_columns(),
    *(Column(name, Integer, nullable=False, server_default=text("0")) for name in MEASURES),
    UniqueConstraint(*_CELL_KEY, name="uq_indicator_cells_key"),
)
#: The first-answer delays per cell, the medians' source, at two levels (``unit``): ``h`` counts
#: per whole hour, ``m`` per whole minute (``minutes``: the hour or the minute). The cells of
#: every structure are also kept together (``scope`` ``*``), so an ops median reads the hours of
#: the period, then the minutes of the one or two hours the middle falls in: bounded reads.
indicator_delays = Table(
    "indicator_delays",
    Base.metadata,
    *_cell_columns(),
    Column("unit", String(1), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    # Periods before groups and minutes: a median seeks the periods it reads (migration 0012).
    UniqueConstraint(
        "dimension",
        "unit",
        "scope",
        "grain",
        "period",
        "value",
        "minutes",
        name="uq_indicator_delays_key",
    ),
)
#: What each referral was last counted as (its cells and counts): the fold subtracts it before
#: adding the new one, so folding twice counts once. No foreign key: an archived or erased
#: referral keeps its past contribution.
indicator_marks = Table(
    "indicator_marks",
    Base.metadata,
    Column("referral_id", Uuid, primary_key=True),
    Column("facts", JSON, nullable=False),
)
#: One row: activity before ``folded_until`` is in the cells, counted with ``rules``.
indicator_fold_state = Table(
    "indicator_fold_state",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("folded_until", UTCDateTime(), nullable=False),
    Column("rules", JSON, nullable=False),
)

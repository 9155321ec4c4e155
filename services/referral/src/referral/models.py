"""The referral service's tables (its own store; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, MetaData, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from referral.domain import Action, Actor, ReferralStatus
from shared.db.naming import NAMING_CONVENTION
from shared.db.tables import BigIntId, UTCDateTime, platform_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


PLATFORM = platform_tables(Base.metadata)


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"  # type: ignore[attr-defined]


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    network_id: Mapped[str] = mapped_column(String(64), index=True)
    siret: Mapped[str] = mapped_column(String(14), unique=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    email: Mapped[str | None] = mapped_column(String(254))


class JobSeeker(Base):
    """France Travail side, minimal. Never a NIR."""

    __tablename__ = "job_seekers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ft_identifier: Mapped[str] = mapped_column(String(11), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    departement: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(_in("status", ReferralStatus), name="status_known"),
        Index("ix_referrals_structure_created", "structure_code", "created_at", "id"),
        Index("ix_referrals_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_seekers.id"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    network_id: Mapped[str] = mapped_column(String(64))
    rome_code: Mapped[str] = mapped_column(String(5))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    counsellor_id: Mapped[str] = mapped_column(String(255))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    transitions: Mapped[list[ReferralTransition]] = relationship(
        order_by="ReferralTransition.id", lazy="raise"
    )


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
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The event that caused it, when it came from Kafka.
    event_id: Mapped[str | None] = mapped_column(String(64))

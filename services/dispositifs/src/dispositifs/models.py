"""The dispositifs service's tables (its own store)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import MetaData, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.naming import NAMING_CONVENTION
from shared.db.tables import UTCDateTime, platform_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


PLATFORM = platform_tables(Base.metadata)


class KnownReferral(Base):
    """A referral this service heard of, so immersions and training can be linked to it."""

    __tablename__ = "known_referrals"

    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    job_seeker_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    network_id: Mapped[str] = mapped_column(String(64))
    rome_code: Mapped[str] = mapped_column(String(5))
    departement: Mapped[str | None] = mapped_column(String(3))
    structure_code: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

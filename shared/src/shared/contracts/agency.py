"""Events agency ERPs send about referrals addressed to them (topic ``agency.responses``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.base import EventData
from shared.contracts.topics import AGENCY_RESPONSES


class AgencyResponse(EventData):
    """Fields every agency answer carries."""

    topic: ClassVar[str] = AGENCY_RESPONSES.name
    key_field: ClassVar[str] = "referral_id"

    referral_id: UUID
    agency_id: str
    occurred_at: datetime
    comment: str | None = Field(default=None, max_length=2000)


class ReferralAcknowledged(AgencyResponse):
    """The agency has received the referral and will process it."""

    event_type: ClassVar[str] = "coop.referral.acknowledged.v1"


class ReferralAccepted(AgencyResponse):
    """The agency accepts the candidate for the job."""

    event_type: ClassVar[str] = "coop.referral.accepted.v1"
    expected_start_date: date | None = None

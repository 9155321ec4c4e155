"""Events the referral service publishes about referrals (topic ``referral.events``)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.base import EventData
from shared.contracts.topics import REFERRAL_EVENTS

ROME_CODE_PATTERN = r"^[A-N]\d{4}$"


class ReferralSent(EventData):
    """A counsellor referred a job seeker to an agency. Carries no identity: internal consumers
    do not need it (personal data minimisation)."""

    event_type: ClassVar[str] = "coop.referral.sent.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS.name
    key_field: ClassVar[str] = "referral_id"

    referral_id: UUID
    job_seeker_id: UUID
    agency_id: str
    network_id: str
    rome_code: str = Field(pattern=ROME_CODE_PATTERN)
    departement: str | None = None
    counsellor_id: str = Field(description="Subject of the counsellor who sent it.")
    structure_code: str | None = Field(
        default=None, description="France Travail structure of the counsellor."
    )
    sent_at: datetime

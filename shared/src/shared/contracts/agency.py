"""What agency ERPs send about referrals addressed to them (topic ``agency.<network>.responses``).

The referral service is the only reader: it checks that the answer concerns a referral addressed to
that agency, applies it, and republishes what others need on ``referral.events``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.base import EventData
from shared.contracts.topics import AGENCY_RESPONSES_TOPIC
from shared.contracts.vocabulary import ContractType, DeclineReason, ImmersionObjet


class AgencyResponse(EventData):
    """Fields every agency answer carries."""

    topic: ClassVar[str] = AGENCY_RESPONSES_TOPIC
    key_field: ClassVar[str] = "referral_id"

    referral_id: UUID
    agency_id: str = Field(description="The agency answering; must be the one referred to.")
    occurred_at: datetime = Field(description="When it happened at the agency.")
    comment: str | None = Field(default=None, max_length=2000)


class ReferralAcknowledged(AgencyResponse):
    """The agency has received the referral and will process it."""

    event_type: ClassVar[str] = "coop.referral.acknowledged.v1"


class ReferralAccepted(AgencyResponse):
    """The agency accepts the candidate for the job."""

    event_type: ClassVar[str] = "coop.referral.accepted.v1"
    expected_start_date: date | None = None


class ReferralDeclined(AgencyResponse):
    """The agency declines the referral, with a coded reason."""

    event_type: ClassVar[str] = "coop.referral.declined.v1"
    reason: DeclineReason


class InterviewScheduled(AgencyResponse):
    """The agency has scheduled a job interview with the candidate."""

    event_type: ClassVar[str] = "coop.referral.interview_scheduled.v1"
    interview_at: datetime
    location: str | None = Field(default=None, max_length=300)


class ImmersionRequested(AgencyResponse):
    """The agency asks for a PMSMP immersion for the candidate, at a host company; France Travail
    (the prescriber) completes and validates the convention in the dispositifs service."""

    event_type: ClassVar[str] = "coop.agency.immersion_requested.v1"
    objet: ImmersionObjet
    start_date: date
    end_date: date
    weekly_hours: float = Field(gt=0, le=168)
    host_name: str = Field(min_length=1, max_length=200)
    host_siret: str = Field(pattern=r"^\d{14}$")
    host_address: str | None = Field(default=None, max_length=300)
    tutor_name: str | None = Field(default=None, max_length=200)
    tutor_function: str | None = Field(default=None, max_length=200)
    tutor_email: str | None = Field(default=None, max_length=254)
    objectives: str | None = Field(default=None, max_length=2000)
    tasks: str | None = Field(default=None, max_length=2000)


class PlacementStarted(AgencyResponse):
    """The candidate started working: contract type, start date, hours."""

    event_type: ClassVar[str] = "coop.referral.placement_started.v1"
    contract_type: ContractType
    start_date: date
    expected_end_date: date | None = Field(
        default=None, description="Absent for a CDI or CDI intérimaire."
    )
    weekly_hours: float | None = Field(default=None, gt=0, le=60)


class PlacementEnded(AgencyResponse):
    """The placement ended (end of mission or contract, resignation…)."""

    event_type: ClassVar[str] = "coop.referral.placement_ended.v1"
    end_date: date
    reason: str | None = Field(default=None, max_length=300)

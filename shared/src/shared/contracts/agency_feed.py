"""What an agency network's ERP receives on its own feed (topic ``agency.<network_id>.feed``,
key = referral id), published by the referral service.

Personal data: the job seeker's identity and contact are present only when the job seeker consented
to share them with this agency (``identity_shared``); the RQTH status only with explicit consent
for this referral. Never a NIR.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import EventData
from shared.contracts.topics import AGENCY_FEED_TOPIC


class FeedEvent(EventData):
    topic: ClassVar[str] = AGENCY_FEED_TOPIC
    key_field: ClassVar[str] = "referral_id"

    referral_id: UUID
    agency_id: str
    network_id: str


class Candidate(BaseModel):
    """The job seeker, as far as they agreed to be known by this agency."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ft_identifier: str
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    rqth: bool | None = Field(
        default=None,
        description="Travailleur handicapé (RQTH): only present with explicit consent (art. 9 "
        "GDPR data).",
    )


class ReferralReceived(FeedEvent):
    """A France Travail counsellor refers a candidate to one of the network's agencies."""

    event_type: ClassVar[str] = "coop.agency.referral_received.v1"

    rome_code: str
    rome_label: str | None = None
    offer_id: UUID | None = None
    offer_title: str | None = None
    message: str = Field(description="The counsellor's message to the agency.")
    structure_code: str | None = Field(
        default=None, description="The counsellor's France Travail structure."
    )
    identity_shared: bool
    candidate: Candidate | None = Field(
        default=None, description="Present only when the job seeker consented to share it."
    )
    sent_at: datetime
    answer_before: datetime | None = Field(
        default=None, description="Without an answer by then, the referral expires."
    )


class ReferralWithdrawnFromAgency(FeedEvent):
    """The counsellor withdrew the referral: stop processing it."""

    event_type: ClassVar[str] = "coop.agency.referral_withdrawn.v1"

    reason: str
    withdrawn_at: datetime


class ReferralExpiredForAgency(FeedEvent):
    """The referral expired without an answer."""

    event_type: ClassVar[str] = "coop.agency.referral_expired.v1"

    expired_at: datetime


class ImmersionRequestRejected(FeedEvent):
    """The agency's immersion request was refused, with the rule it breaks."""

    event_type: ClassVar[str] = "coop.agency.immersion_rejected.v1"

    reason: str
    article: str | None = None
    rejected_at: datetime

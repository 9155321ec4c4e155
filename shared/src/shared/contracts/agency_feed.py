"""What an agency network's ERP receives on its own feed (topic ``agency.<network_id>.feed``,
key = referral id), published by the referral service.

Personal data: the job seeker's identity and contact are present only when the job seeker consented
to share them with this agency (``identity_shared``); the RQTH status only with explicit consent
for this referral. Never a NIR.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
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


# -- the referral's lifecycle as the agency must know it (issue 12) -------------------------------


class ReferralTransferredWithinNetwork(FeedEvent):
    """A referral of the network moved from one of its agencies to another (``agency_id``, the
    new one, answers from now on)."""

    event_type: ClassVar[str] = "coop.agency.referral_transferred.v1"

    from_agency_id: str
    identity_shared: bool = Field(
        description="False: the job seeker consented to share their identity with the first "
        "agency only — do not show it to the new one."
    )
    transferred_at: datetime
    answer_before: datetime | None = Field(
        default=None, description="Without an answer of the new agency by then, it expires."
    )


class ReferralObsoleteForAgency(FeedEvent):
    """The candidate was hired elsewhere: stop processing this referral (which agency hired
    them is not said: networks are competitors)."""

    event_type: ClassVar[str] = "coop.agency.referral_obsolete.v1"

    reason: str = Field(description="In French, for the agency's staff.")
    obsoleted_at: datetime


class ReferralStaleReminder(FeedEvent):
    """No news of an accepted or interview-scheduled referral for a while: tell where it stands,
    or it closes as ``no_news`` at ``closes_at``."""

    event_type: ClassVar[str] = "coop.agency.referral_reminder.v1"

    status: str
    last_news_at: datetime
    closes_at: datetime
    message: str = Field(description="In French, for the agency's staff.")
    reminded_at: datetime


class ReferralClosedNoNewsForAgency(FeedEvent):
    """The referral was closed for want of news after the reminder: stop processing it."""

    event_type: ClassVar[str] = "coop.agency.referral_closed_no_news.v1"

    closed_at: datetime


class PlacementFollowUpRequested(FeedEvent):
    """ "Toujours en poste ?" at 1, 3 or 6 months after the placement started: answer with
    ``coop.referral.follow_up_answered.v1`` (the same ``milestone_months``)."""

    event_type: ClassVar[str] = "coop.agency.placement_follow_up.v1"

    milestone_months: Literal[1, 3, 6]
    placement_start_date: date
    question: str = Field(description="In French, for the agency's staff.")
    asked_at: datetime

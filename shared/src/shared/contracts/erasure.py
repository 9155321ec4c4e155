"""Consent and erasure events (issue 11, DESIGN.md "Personal data and access").

- ``referral.events``: ``coop.job_seeker.erasure_requested.v1``: the DPO asked that a job seeker be
  erased; every service erases or pseudonymises what it holds of them and answers with its own
  ``…erasure_completed.v1`` (on ``dispositifs.events``, ``notifications.events``) with what it did.
- ``agency.<network>.feed``: the agency's ERP must act on ``candidate_identity_shared`` (the job
  seeker now agrees to be known by the agency for this referral), ``candidate_identity_withdrawn``
  (delete what you hold of the candidate of this referral) and ``erasure_requested`` (the person of
  these referrals asked to be erased: delete everything about them). Keys never carry personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.agency_feed import Candidate, FeedEvent
from shared.contracts.base import EventData
from shared.contracts.topics import (
    AGENCY_FEED_TOPIC,
    DISPOSITIFS_EVENTS,
    NOTIFICATIONS_EVENTS,
    REFERRAL_EVENTS,
)


class JobSeekerErasureRequested(EventData):
    """A job seeker's erasure was requested (GDPR art. 17): erase or pseudonymise every copy."""

    event_type: ClassVar[str] = "coop.job_seeker.erasure_requested.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS.name
    key_field: ClassVar[str] = "erasure_id"

    erasure_id: UUID
    job_seeker_id: UUID
    referral_ids: list[UUID] = Field(description="Every referral of the job seeker.")
    requested_at: datetime


class JobSeekerArchiveNoticed(EventData):
    """A job seeker's record has been inactive for the archive delay (2 years): it will be
    anonymised on ``archive_on`` unless the owning structure acts on it before."""

    event_type: ClassVar[str] = "coop.job_seeker.archive_noticed.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS.name
    key_field: ClassVar[str] = "job_seeker_id"

    job_seeker_id: UUID
    structure_code: str | None = Field(default=None, description="The owning structure.")
    inactive_since: datetime
    archive_on: datetime


class ErasureCounts(BaseModel):
    """What one store did: rows erased or pseudonymised, by table."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    table: str
    rows: int
    action: str = Field(description="erased | pseudonymised | deleted")


class ErasureCompleted(EventData):
    """A service's answer to ``erasure_requested``: what it erased in its own store."""

    key_field: ClassVar[str] = "erasure_id"

    erasure_id: UUID
    service: str
    report: list[ErasureCounts]
    completed_at: datetime


class DispositifsErasureCompleted(ErasureCompleted):
    """The dispositifs service erased what it held of the person: what it did, table by table."""

    event_type: ClassVar[str] = "coop.dispositifs.erasure_completed.v1"
    topic: ClassVar[str] = DISPOSITIFS_EVENTS.name


class NotificationsErasureCompleted(ErasureCompleted):
    """The notifications service erased what it held of the person: what it did, table by
    table."""

    event_type: ClassVar[str] = "coop.notifications.erasure_completed.v1"
    topic: ClassVar[str] = NOTIFICATIONS_EVENTS.name


# -- on the agency feeds -----------------------------------------------------------------------


class CandidateIdentityShared(FeedEvent):
    """The job seeker consented, after sending, to be known by the agency for this referral."""

    event_type: ClassVar[str] = "coop.agency.candidate_identity_shared.v1"

    candidate: Candidate
    shared_at: datetime


class CandidateIdentityWithdrawn(FeedEvent):
    """The job seeker withdrew their consent: delete what you hold of this referral's candidate
    (``withdrawn``: identity, and so RQTH; or RQTH alone)."""

    event_type: ClassVar[str] = "coop.agency.candidate_identity_withdrawn.v1"

    withdrawn: list[str] = Field(description="identity | rqth")
    withdrawn_at: datetime


class AgencyErasureInstruction(EventData):
    """The person of these referrals asked to be erased: delete everything you hold about them
    (GDPR art. 17 and 19)."""

    event_type: ClassVar[str] = "coop.agency.erasure_requested.v1"
    topic: ClassVar[str] = AGENCY_FEED_TOPIC
    key_field: ClassVar[str] = "erasure_id"

    erasure_id: UUID
    network_id: str
    referral_ids: list[UUID]
    requested_at: datetime

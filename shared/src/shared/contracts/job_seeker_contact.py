"""The job seeker's consent to be contacted by the platform (issue 12, item 8), on
``referral.events`` (key = job seeker id): the notifications service keeps the address it carries
in its directory while the consent holds, and deletes it when the consent is withdrawn or the
person erased. Without this consent no message is ever addressed to a job seeker.

Personal data (``docs/personal-data.md``): the name and the contact details, given by the person
for this purpose only; nothing else of the job seeker leaves the referral service this way.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.base import EventData
from shared.contracts.topics import REFERRAL_EVENTS


class JobSeekerContactEvent(EventData):
    topic: ClassVar[str] = REFERRAL_EVENTS.name
    key_field: ClassVar[str] = "job_seeker_id"
    summary_fr: ClassVar[str] = ""

    job_seeker_id: UUID


class JobSeekerContactConsented(JobSeekerContactEvent):
    """The job seeker agreed to be contacted by the platform about their referrals: where to
    reach them, and the name to greet them by."""

    event_type: ClassVar[str] = "coop.job_seeker.contact_consented.v1"
    summary_fr: ClassVar[str] = (
        "Le demandeur d'emploi accepte d'être contacté par la plateforme au sujet de ses "
        "orientations : où le joindre, et son nom pour le saluer."
    )

    first_name: str
    last_name: str
    email: str | None = Field(default=None, description="Where mails reach them.")
    phone: str | None = Field(default=None, description="For text messages (SMS), later.")
    consented_at: datetime


class JobSeekerContactWithdrawn(JobSeekerContactEvent):
    """The job seeker withdrew their consent to be contacted: forget how to reach them."""

    event_type: ClassVar[str] = "coop.job_seeker.contact_withdrawn.v1"
    summary_fr: ClassVar[str] = (
        "Le demandeur d'emploi retire son consentement à être contacté : oubliez ses coordonnées."
    )

    withdrawn_at: datetime

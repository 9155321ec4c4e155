"""The territory (issue 16, item 5): France Travail's hard-to-fill offers published to the agency
networks that have agencies in the offer's territory and trade, and the agencies' answers.

Key = the offer id (every event about one offer in one partition). No personal data: an offer
is a job, an answer a count of candidates at most (never who they are: a referral carries that).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import EventData
from shared.contracts.topics import AGENCY_FEED_TOPIC, AGENCY_RESPONSES_TOPIC, REFERRAL_EVENTS


class OfferAnswerKind(enum.StrEnum):
    """What an agency answers to a hard-to-fill offer."""

    #: "We have candidates": the agency will refer them (or already has).
    HAS_CANDIDATES = "has_candidates"
    #: The agency asks for a PMSMP immersion for this offer.
    REQUEST_PMSMP = "request_pmsmp"
    #: The agency asks for an MRS (méthode de recrutement par simulation) session for it.
    REQUEST_MRS = "request_mrs"
    #: The agency asks for a POEI (préparation opérationnelle à l'emploi individuelle) for it.
    REQUEST_POEI = "request_poei"


class HardToFillOfferPublished(EventData):
    """A France Travail offer flagged hard-to-fill (with the flag's source), in a territory and a
    trade where this network has agencies: the agencies listed may answer it."""

    event_type: ClassVar[str] = "coop.agency.hard_to_fill_offer_published.v1"
    topic: ClassVar[str] = AGENCY_FEED_TOPIC
    key_field: ClassVar[str] = "offer_id"

    offer_id: UUID
    network_id: str
    agency_ids: list[str] = Field(
        description="The network's active agencies in the offer's territory that know the trade."
    )
    title: str
    rome_code: str
    rome_label: str | None = None
    departement: str
    region: str
    contract_type: str
    posts: int
    hard_to_fill_source: str = Field(
        description="bmo (enquête BMO), regional_list (liste régionale), offer_flag (the offer's "
        "own flag, offresManqueCandidats)."
    )
    ft_offer_id: str | None = Field(default=None, description="France Travail's offer id.")
    published_at: datetime


class OfferAnswered(EventData):
    """An agency answers a hard-to-fill offer published on its network's feed: it has candidates,
    or asks for a PMSMP, an MRS or a POEI for that offer."""

    event_type: ClassVar[str] = "coop.agency.offer_answered.v1"
    topic: ClassVar[str] = AGENCY_RESPONSES_TOPIC
    key_field: ClassVar[str] = "offer_id"

    offer_id: UUID
    agency_id: str = Field(description="The answering agency, one of the network's.")
    answer: OfferAnswerKind
    candidates: int | None = Field(
        default=None, ge=1, le=1000, description="How many candidates (has_candidates only)."
    )
    occurred_at: AwareDatetime = Field(
        description="When the agency answered, with its time zone (ISO 8601)."
    )


class OfferScheme(enum.StrEnum):
    """The scheme an agency asked for a hard-to-fill offer (the dispositifs service's)."""

    PMSMP = "pmsmp"
    MRS = "mrs"
    POEI = "poei"


#: The answers that ask for a scheme, and the scheme each asks for.
SCHEME_OF_ANSWER = {
    OfferAnswerKind.REQUEST_PMSMP: OfferScheme.PMSMP,
    OfferAnswerKind.REQUEST_MRS: OfferScheme.MRS,
    OfferAnswerKind.REQUEST_POEI: OfferScheme.POEI,
}


class OfferSchemeRequested(EventData):
    """An agency's answer to a hard-to-fill offer asking for a PMSMP, an MRS or a POEI, applied
    by the referral service: the dispositifs service opens the request for the offer's
    France Travail counsellors to take on (find candidates, then the scheme). No candidate yet,
    so no personal data: the offer, its territory and the asking agency."""

    event_type: ClassVar[str] = "coop.offer.scheme_requested.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS.name
    key_field: ClassVar[str] = "offer_id"

    offer_id: UUID
    answer_id: int = Field(description="The applied answer (``offer_answers.id``).")
    scheme: OfferScheme
    agency_id: str
    network_id: str
    title: str = Field(description="The offer's title.")
    rome_code: str
    departement: str
    region: str
    hard_to_fill_source: str = ""
    structure_code: str | None = Field(
        default=None,
        description="France Travail structure holding the offer (its counsellors take the "
        "request on); none for an offer synchronised from France Travail's API (ops).",
    )
    requested_at: datetime


class JobDatingInvitation(BaseModel):
    """One invited candidate, by referral: who they are comes with the referral (with consent)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    referral_id: UUID
    slot: str | None = Field(default=None, description="The interview slot (ISO 8601).")


class JobDatingInvitationsPublished(EventData):
    """A job dating or open day this agency takes part in, with the candidates invited to meet
    it so far (each a referral, received on the same feed with the identity the job seeker
    consented to share). Published again, whole, after each batch of invitations."""

    event_type: ClassVar[str] = "coop.agency.job_dating_invitations.v1"
    topic: ClassVar[str] = AGENCY_FEED_TOPIC
    key_field: ClassVar[str] = "job_dating_id"

    job_dating_id: UUID
    network_id: str
    agency_id: str
    kind: str = Field(description="job_dating | open_day")
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    departement: str
    offer_id: UUID | None = None
    slots: list[str]
    invitations: list[JobDatingInvitation]

"""What an agency ERP may ask for a referral addressed to it, besides answering it (topic
``agency.<network>.responses``): a training before hiring (POEI), as it asks for an immersion
(issue 12, item 6). The referral service checks that the referral is addressed to that network
and agency, keeps the request on the referral's timeline and republishes it on
``referral.events`` for the dispositifs service to open the training request.

One place per request type (:data:`REQUEST_TYPES`): the referral service handles each from it,
the agency client (``coop-agency``) names its commands from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.agency import AgencyResponse
from shared.contracts.referral import ROME_CODE_PATTERN, ReferralEvent
from shared.contracts.vocabulary import TrainingKind


class TrainingRequested(AgencyResponse):
    """The agency asks for a training before hiring the candidate (POEI: préparation
    opérationnelle à l'emploi individuelle), for the job it would offer; France Travail opens
    the training request in the dispositifs service and the counsellor follows it up."""

    event_type: ClassVar[str] = "coop.agency.training_requested.v1"
    summary_fr: ClassVar[str] = (
        "L'agence demande une formation avant l'embauche (POEI) pour le candidat de "
        "l'orientation : France Travail ouvre la demande de formation."
    )

    kind: TrainingKind = Field(default=TrainingKind.POEI, description="poei (poec: collective).")
    hours: int | None = Field(default=None, gt=0, le=400, description="POEI: 400 hours at most.")
    start_date: date | None = None
    end_date: date | None = None
    training_organisation: str | None = Field(default=None, max_length=200)
    objectives: str | None = Field(default=None, max_length=2000)


class ReferralTrainingRequested(ReferralEvent):
    """An agency's training request, checked by the referral service (the referral is addressed
    to that agency), for the dispositifs service to open a training request (a pathway
    proposal) on the referral."""

    event_type: ClassVar[str] = "coop.referral.training_requested.v1"
    summary_fr: ClassVar[str] = (
        "La demande de formation (POEI) d'une agence, vérifiée par le service des orientations, "
        "pour que le service des dispositifs ouvre la demande de formation."
    )

    job_seeker_id: UUID
    rome_code: str = Field(pattern=ROME_CODE_PATTERN)
    kind: TrainingKind
    hours: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    training_organisation: str | None = None
    objectives: str | None = None
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class RequestType:
    """One kind of agency request: its model, its ``coop-agency`` command, the event it becomes
    on ``referral.events`` (the request's own fields, and ``requested_at``)."""

    model: type[AgencyResponse]
    cli_name: str
    produces: type[ReferralEvent]
    #: The scheme of the referral's timeline it opens (``referral.domain.Scheme`` value).
    scheme: str
    #: The timeline's label, in French.
    label: str


REQUEST_TYPES: tuple[RequestType, ...] = (
    RequestType(
        TrainingRequested,
        "training",
        ReferralTrainingRequested,
        scheme="poei",
        label="Formation avant embauche (POEI) demandée par l'agence",
    ),
)

#: Request model → its type.
REQUEST_TYPE_OF: Mapping[type[AgencyResponse], RequestType] = {t.model: t for t in REQUEST_TYPES}

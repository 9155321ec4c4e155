"""What agency ERPs send about referrals addressed to them (topic ``agency.<network>.responses``).

The referral service is the only reader: it checks that the answer concerns a referral addressed to
that agency, applies it, and republishes what others need on ``referral.events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventData
from shared.contracts.referral import (
    ROME_CODE_PATTERN,
    PriorToHireAction,
    ReferralAction,
    ReferralAgencyChanged,
    ReferralClosed,
    ReferralEvent,
    ReferralImmersionRequested,
    ReferralStatusChanged,
)
from shared.contracts.topics import AGENCY_RESPONSES_TOPIC
from shared.contracts.vocabulary import ContractType, DeclineReason, ImmersionObjet
from shared.privacy.fields import ScreenedText


class AgencyResponse(EventData):
    """Fields every agency answer carries."""

    topic: ClassVar[str] = AGENCY_RESPONSES_TOPIC
    key_field: ClassVar[str] = "referral_id"

    referral_id: UUID
    agency_id: str = Field(description="The agency answering; must be the one referred to.")
    occurred_at: AwareDatetime = Field(
        description="When it happened at the agency, with its time zone (ISO 8601, e.g. "
        "2026-11-26T10:00:00+01:00 or …Z): a time without one is refused (invalid_data)."
    )
    comment: ScreenedText | None = Field(
        default=None,
        max_length=2000,
        description="Free text: refused (invalid_data) with a NIR, bank details or a health word.",
    )


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
    reason_shared_with_job_seeker: bool = Field(
        default=True,
        description="Whether the job seeker (when they consented to be contacted) is told the "
        "reason, phrased for them; false: told only that the agency cannot follow up (as les "
        "emplois de l'inclusion's refusal_reason_shared_with_job_seeker). The counsellor "
        "always reads the reason.",
    )


class InterviewScheduled(AgencyResponse):
    """The agency has scheduled a job interview with the candidate."""

    event_type: ClassVar[str] = "coop.referral.interview_scheduled.v1"
    interview_at: AwareDatetime = Field(description="With its time zone.")
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


class ReferralPostponed(AgencyResponse):
    """The agency puts the referral on hold ("en attente") until a date it will come back on."""

    event_type: ClassVar[str] = "coop.referral.postponed.v1"
    come_back_on: date = Field(description="The day the agency will come back to it.")


class ReferralPooled(AgencyResponse):
    """The agency registers the candidate in its pool (vivier) for these trades: no mission yet,
    one to come."""

    event_type: ClassVar[str] = "coop.referral.pooled.v1"
    rome_codes: list[Annotated[str, Field(pattern=ROME_CODE_PATTERN)]] = Field(
        min_length=1, max_length=20, description="The trades (ROME 4.0 codes) of the pool."
    )


class PriorToHireStarted(AgencyResponse):
    """The agency starts an action before hiring: an immersion (PMSMP), an MRS or a POEI, run in
    the dispositifs service."""

    event_type: ClassVar[str] = "coop.referral.prior_to_hire_started.v1"
    prior_action: PriorToHireAction


class HireCancelled(AgencyResponse):
    """The hire recorded by ``placement_started`` is cancelled (before or at its start)."""

    event_type: ClassVar[str] = "coop.referral.hire_cancelled.v1"
    reason: str = Field(min_length=1, max_length=300)


class ReferralTransferred(AgencyResponse):
    """The agency hands the referral over to another agency of the same network; the referral
    follows, the new agency answers from then on."""

    event_type: ClassVar[str] = "coop.referral.transferred.v1"
    to_agency_id: str = Field(description="An active agency of the same network.")


class DeclineReopened(AgencyResponse):
    """The agency re-opens a referral it declined (within the delay the platform allows)."""

    event_type: ClassVar[str] = "coop.referral.reopened.v1"


class PlacementExtended(AgencyResponse):
    """The mission or contract is extended to a new end date."""

    event_type: ClassVar[str] = "coop.referral.placement_extended.v1"
    new_end_date: date


class PlacementFollowUpAnswered(AgencyResponse):
    """The agency's answer to the feed's "toujours en poste ?" at 1, 3 or 6 months."""

    event_type: ClassVar[str] = "coop.referral.follow_up_answered.v1"
    milestone_months: Literal[1, 3, 6]
    still_employed: bool


# -- one place per answer type -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerType:
    """What one kind of agency answer is and does, declared once: the referral service applies it
    from this table, the agency client (``coop-agency``) names its commands from it."""

    model: type[AgencyResponse]
    #: The referral lifecycle's action it asks for.
    action: ReferralAction
    #: The command of ``coop-agency`` (and the ``answer`` of scenario files) that sends it.
    cli_name: str
    #: The event ``referral.events`` carries once it is applied.
    produces: type[ReferralEvent]
    #: The referral's facts it records: referral fact → the answer's field.
    applies: Mapping[str, str] = field(default_factory=dict)
    #: The answer's field the transition log keeps as the reason, if any.
    reason_field: str | None = None
    #: The fields of the produced event taken from the answer: event field → the answer's field
    #: (besides the routing fields, and ``ReferralStatusChanged``'s states and details).
    event_fields: Mapping[str, str] = field(default_factory=dict)


_IMMERSION_FIELDS = (
    "objet",
    "start_date",
    "end_date",
    "weekly_hours",
    "host_name",
    "host_siret",
    "host_address",
    "tutor_name",
    "tutor_function",
    "tutor_email",
    "objectives",
    "tasks",
)

ANSWER_TYPES: tuple[AnswerType, ...] = (
    AnswerType(
        ReferralAcknowledged, ReferralAction.ACKNOWLEDGE, "acknowledge", ReferralStatusChanged
    ),
    AnswerType(
        ReferralAccepted,
        ReferralAction.ACCEPT,
        "accept",
        ReferralStatusChanged,
        applies={"accepted_at": "occurred_at"},
    ),
    AnswerType(
        ReferralDeclined,
        ReferralAction.DECLINE,
        "decline",
        ReferralStatusChanged,
        applies={"declined_at": "occurred_at", "decline_reason": "reason"},
        reason_field="reason",
        event_fields={"decline_reason": "reason"},
    ),
    AnswerType(
        InterviewScheduled,
        ReferralAction.SCHEDULE_INTERVIEW,
        "interview",
        ReferralStatusChanged,
    ),
    AnswerType(
        ImmersionRequested,
        ReferralAction.REQUEST_IMMERSION,
        "immersion",
        ReferralImmersionRequested,
        event_fields={**{name: name for name in _IMMERSION_FIELDS}, "requested_at": "occurred_at"},
    ),
    AnswerType(
        PlacementStarted,
        ReferralAction.START_PLACEMENT,
        "placement-start",
        ReferralStatusChanged,
        applies={
            "placed_at": "occurred_at",
            "placement_contract_type": "contract_type",
            "placement_start_date": "start_date",
            "placement_expected_end_date": "expected_end_date",
            "placement_weekly_hours": "weekly_hours",
        },
        event_fields={
            "contract_type": "contract_type",
            "placement_start_date": "start_date",
            "placement_end_date": "expected_end_date",
        },
    ),
    AnswerType(
        PlacementEnded,
        ReferralAction.END_PLACEMENT,
        "placement-end",
        ReferralClosed,
        applies={"placement_end_date": "end_date"},
        reason_field="reason",
        event_fields={"closed_at": "occurred_at", "placement_end_date": "end_date"},
    ),
    AnswerType(
        ReferralPostponed,
        ReferralAction.POSTPONE,
        "postpone",
        ReferralStatusChanged,
        applies={"postponed_until": "come_back_on"},
    ),
    AnswerType(
        ReferralPooled,
        ReferralAction.ADD_TO_POOL,
        "pool",
        ReferralStatusChanged,
        applies={"pool_rome_codes": "rome_codes"},
    ),
    AnswerType(
        PriorToHireStarted,
        ReferralAction.START_PRIOR_TO_HIRE,
        "prior-to-hire",
        ReferralStatusChanged,
        applies={"prior_to_hire_action": "prior_action"},
        reason_field="prior_action",
    ),
    AnswerType(
        HireCancelled,
        ReferralAction.CANCEL_HIRE,
        "hire-cancel",
        ReferralStatusChanged,
        reason_field="reason",
    ),
    AnswerType(
        ReferralTransferred,
        ReferralAction.TRANSFER,
        "transfer",
        ReferralAgencyChanged,
        event_fields={"transferred_at": "occurred_at", "comment": "comment"},
    ),
    AnswerType(DeclineReopened, ReferralAction.REOPEN, "reopen", ReferralStatusChanged),
    AnswerType(
        PlacementExtended,
        ReferralAction.EXTEND_PLACEMENT,
        "placement-extend",
        ReferralStatusChanged,
        applies={"placement_expected_end_date": "new_end_date"},
        event_fields={"placement_end_date": "new_end_date"},
    ),
    AnswerType(
        PlacementFollowUpAnswered,
        ReferralAction.RECORD_FOLLOW_UP,
        "follow-up",
        ReferralStatusChanged,
    ),
)

#: Answer model → its type.
ANSWER_TYPE_OF: Mapping[type[AgencyResponse], AnswerType] = {t.model: t for t in ANSWER_TYPES}
#: ``coop-agency`` command → its type.
ANSWER_TYPE_NAMED: Mapping[str, AnswerType] = {t.cli_name: t for t in ANSWER_TYPES}

"""Events the referral service publishes about referrals (topic ``referral.events``, key = referral
id). Internal topic: it carries ids and codes, not the job seeker's identity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.base import EventData
from shared.contracts.topics import REFERRAL_EVENTS
from shared.contracts.vocabulary import ContractType, DeclineReason, ImmersionObjet, LabelledEnum

ROME_CODE_PATTERN = r"^[A-N]\d{4}$"


class ReferralStatus(LabelledEnum):
    """Where a referral stands (its lifecycle: the referral service's transition table)."""

    SENT = "sent", "Envoyée"
    ACKNOWLEDGED = "acknowledged", "Prise en compte"
    ACCEPTED = "accepted", "Acceptée"
    INTERVIEW_SCHEDULED = "interview_scheduled", "Entretien programmé"
    PLACED = "placed", "En poste"
    DECLINED = "declined", "Déclinée"
    WITHDRAWN = "withdrawn", "Retirée"
    EXPIRED = "expired", "Expirée"
    CLOSED = "closed", "Clôturée"
    POSTPONED = "postponed", "En attente"
    POOL = "pool", "Inscrit en vivier"
    PRIOR_TO_HIRE = "prior_to_hire", "Action préalable à l'embauche"
    HIRE_CANCELLED = "hire_cancelled", "Embauche annulée"
    TRANSFERRED = "transferred", "Transférée à une autre agence du réseau"
    OBSOLETE = "obsolete", "Sans objet : candidat embauché ailleurs"
    NO_NEWS = "no_news", "Clôturée sans nouvelles de l'agence"

    @property
    def is_final(self) -> bool:
        """No action leaves a final status."""
        return self in FINAL_REFERRAL_STATUSES

    @property
    def is_ended(self) -> bool:
        """No longer in progress (final, or declined: a decline may still be re-opened)."""
        return self in ENDED_REFERRAL_STATUSES


FINAL_REFERRAL_STATUSES = frozenset(
    {
        ReferralStatus.WITHDRAWN,
        ReferralStatus.EXPIRED,
        ReferralStatus.CLOSED,
        ReferralStatus.HIRE_CANCELLED,
        ReferralStatus.OBSOLETE,
        ReferralStatus.NO_NEWS,
    }
)

#: Statuses of a referral no longer in progress: the final ones, and ``declined``, which the
#: agency may re-open within a delay (a setting) but which blocks nothing meanwhile.
ENDED_REFERRAL_STATUSES = FINAL_REFERRAL_STATUSES | {ReferralStatus.DECLINED}


class ReferralAction(LabelledEnum):
    """What moved a referral (``action`` of ``referral.status_changed``), labelled as its
    timeline says it."""

    SEND = "send", "Orientation envoyée"
    ACKNOWLEDGE = "acknowledge", "Orientation prise en compte par l'agence"
    ACCEPT = "accept", "Candidature acceptée par l'agence"
    SCHEDULE_INTERVIEW = "schedule_interview", "Entretien d'embauche programmé"
    DECLINE = "decline", "Orientation déclinée par l'agence"
    REQUEST_IMMERSION = "request_immersion", "Immersion (PMSMP) demandée par l'agence"
    START_PLACEMENT = "start_placement", "Prise de poste"
    END_PLACEMENT = "end_placement", "Fin de contrat"
    WITHDRAW = "withdraw", "Orientation retirée par le conseiller"
    EXPIRE = "expire", "Orientation expirée sans réponse"
    POSTPONE = "postpone", "Orientation mise en attente par l'agence"
    ADD_TO_POOL = "add_to_pool", "Candidat inscrit dans le vivier de l'agence"
    START_PRIOR_TO_HIRE = "start_prior_to_hire", "Action préalable à l'embauche engagée"
    CANCEL_HIRE = "cancel_hire", "Embauche annulée par l'agence"
    TRANSFER = "transfer", "Orientation transférée à une autre agence du réseau"
    MAKE_OBSOLETE = "make_obsolete", "Orientation sans objet : candidat embauché ailleurs"
    REOPEN = "reopen", "Orientation déclinée rouverte par l'agence"
    EXTEND_PLACEMENT = "extend_placement", "Contrat prolongé"
    REMIND_STALE = "remind_stale", "Relance de l'agence : pas de nouvelles"
    CLOSE_NO_NEWS = "close_no_news", "Orientation clôturée sans nouvelles de l'agence"
    ASK_FOLLOW_UP = "ask_follow_up", "Suivi du placement : « toujours en poste ? » demandé"
    RECORD_FOLLOW_UP = "record_follow_up", "Suivi du placement : réponse de l'agence"
    # A local action (job dating, open day) the referral was an invitation to (issue 16).
    RECORD_ATTENDANCE = "record_attendance", "Présence à l'action locale notée par le conseiller"
    LOCAL_ACTION_INTERVIEW = (
        "local_action_interview",
        "Entretien obtenu lors de l'action locale (noté par le conseiller)",
    )
    LOCAL_ACTION_HIRE = (
        "local_action_hire",
        "Retenu(e) pour un recrutement lors de l'action locale (prise de poste à déclarer par"
        " l'agence)",
    )


class PriorToHireAction(LabelledEnum):
    """The action an agency starts before hiring (les emplois de l'inclusion's "préalable à
    l'embauche"), each one a France Travail scheme of the dispositifs service."""

    PMSMP = "pmsmp", "Immersion en entreprise (PMSMP)"
    MRS = "mrs", "Méthode de recrutement par simulation (MRS)"
    POEI = "poei", "Préparation opérationnelle à l'emploi individuelle (POEI)"


class ReferralEvent(EventData):
    """Fields every referral event carries, so consumers need no lookup to route it."""

    topic: ClassVar[str] = REFERRAL_EVENTS.name
    key_field: ClassVar[str] = "referral_id"

    referral_id: UUID
    agency_id: str
    network_id: str
    counsellor_id: str = Field(description="Subject of the counsellor who sent it.")
    structure_code: str | None = Field(
        default=None, description="France Travail structure of the counsellor."
    )


class ReferralSent(ReferralEvent):
    """A counsellor referred a job seeker to an agency."""

    event_type: ClassVar[str] = "coop.referral.sent.v1"

    job_seeker_id: UUID
    rome_code: str = Field(pattern=ROME_CODE_PATTERN)
    departement: str | None = None
    offer_id: UUID | None = None
    sent_at: datetime
    priority_publics: list[str] = Field(
        default_factory=list,
        description="The job seeker's priority publics on the day it was sent (brsa, jeune, "
        "senior, deld, qpv), for the POEI's higher hour cap; never rqth (health data stays in "
        "the referral service).",
    )
    agency_name: str | None = Field(
        default=None, description="The agency's name, for the messages that name it."
    )
    agency_town: str | None = Field(
        default=None, description="The agency's town (from its address), for the messages."
    )


class ReferralStatusChanged(ReferralEvent):
    """An agency's answer was applied (acknowledged, accepted, declined, interview scheduled,
    postponed, pooled, prior-to-hire action, re-opened, placement started or extended, hire
    cancelled, follow-up answered). ``details`` holds the answer's own fields (interview time,
    contract, come-back date, trades, new end date, still employed…)."""

    event_type: ClassVar[str] = "coop.referral.status_changed.v1"

    from_status: ReferralStatus
    to_status: ReferralStatus
    #: A :class:`ReferralAction` value (kept a string: consumers' tests still send other ones).
    action: str
    decline_reason: DeclineReason | None = None
    contract_type: ContractType | None = None
    placement_start_date: date | None = None
    placement_end_date: date | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime
    comment: str | None = Field(
        default=None,
        description="The agency's comment with its answer (screened free text), for the "
        "counsellor.",
    )


class ReferralWithdrawn(ReferralEvent):
    """The counsellor withdrew the referral."""

    event_type: ClassVar[str] = "coop.referral.withdrawn.v1"

    reason: str
    withdrawn_at: datetime


class ReferralExpired(ReferralEvent):
    """No answer from the agency within the configured delay."""

    event_type: ClassVar[str] = "coop.referral.expired.v1"

    expired_at: datetime


class ReferralClosed(ReferralEvent):
    """The placement ended; the referral is closed."""

    event_type: ClassVar[str] = "coop.referral.closed.v1"

    closed_at: datetime
    placement_end_date: date | None = None


class ReferralImmersionRequested(ReferralEvent):
    """An agency's immersion request, checked by the referral service (the referral is addressed
    to that agency), for the dispositifs service to turn into a PMSMP convention request."""

    event_type: ClassVar[str] = "coop.referral.immersion_requested.v1"

    job_seeker_id: UUID
    rome_code: str = Field(pattern=ROME_CODE_PATTERN)
    objet: ImmersionObjet
    start_date: date
    end_date: date
    weekly_hours: float
    host_name: str
    host_siret: str
    host_address: str | None = None
    tutor_name: str | None = None
    tutor_function: str | None = None
    tutor_email: str | None = None
    objectives: str | None = None
    tasks: str | None = None
    requested_at: datetime


class ReferralAgencyChanged(ReferralEvent):
    """The agency transferred the referral to another agency of the same network: the referral
    follows (``agency_id`` is the new agency); the counsellor is told."""

    event_type: ClassVar[str] = "coop.referral.agency_changed.v1"

    from_agency_id: str
    from_status: ReferralStatus
    to_status: ReferralStatus
    comment: str | None = None
    transferred_at: datetime
    agency_name: str | None = Field(
        default=None, description="The new agency's name, for the messages that name it."
    )
    agency_town: str | None = Field(
        default=None, description="The new agency's town (from its address), for the messages."
    )
    from_agency_name: str | None = Field(
        default=None, description="The name of the agency that handed the referral over."
    )


class ReferralObsoleted(ReferralEvent):
    """The job seeker was hired through another referral: this one is closed as obsolete."""

    event_type: ClassVar[str] = "coop.referral.obsoleted.v1"

    from_status: ReferralStatus
    job_seeker_id: UUID
    placed_referral_id: UUID = Field(description="The referral through which they were hired.")
    obsoleted_at: datetime


class ReferralClosedNoNews(ReferralEvent):
    """Accepted or interview scheduled, then no news from the agency after a reminder: the
    referral is closed as ``no_news``."""

    event_type: ClassVar[str] = "coop.referral.closed_no_news.v1"

    from_status: ReferralStatus
    last_news_at: datetime
    reminded_at: datetime
    closed_at: datetime

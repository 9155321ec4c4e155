"""What an agency network's ERP learns on its own feed (``agency.<network_id>.feed``, key = referral
id) of the schemes serving one of its referrals: PMSMP immersions, MRS evaluations, POEI / POEC
trainings (issue 12, item 6). The referral service republishes each ``dispositifs.events`` event
that concerns a referral as one of these (the table is
``referral.use_cases.scheme_events.FEED_OF``).

Personal data: none beyond what the agency already knows of its referral — no tutor, no party's
contact, no link, no incident's description. The host company's name is the agency's own
business (it asked for the immersion, or hears where its candidate goes).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from shared.contracts.agency_feed import FeedEvent
from shared.contracts.vocabulary import ContractType, ImmersionObjet, TrainingKind


class SchemeFeedEvent(FeedEvent):
    """Fields every scheme event of the feed carries: when it happened."""

    #: French summary of the AsyncAPI document (``shared.contracts.asyncapi``).
    summary_fr: ClassVar[str] = ""

    occurred_at: datetime


class ImmersionProgressForAgency(SchemeFeedEvent):
    """A step of the PMSMP convention of this referral (requested, ready to sign, signed,
    assessment requested or shared, an incident or an error in the convention reported):
    ``step`` says which, ``label`` says it in French. Nothing personal: no party, no link, no
    description of an incident."""

    event_type: ClassVar[str] = "coop.agency.immersion_progressed.v1"
    summary_fr: ClassVar[str] = (
        "Une étape de la convention d'immersion (PMSMP) de l'orientation : demandée, prête à "
        "signer, signée, bilan demandé ou partagé, incident ou erreur signalés (sans détail "
        "personnel)."
    )

    convention_id: UUID
    step: str = Field(
        description="requested | signature_requested | signed | assessment_requested | "
        "assessment_shared | incident_reported | error_reported"
    )
    label: str = Field(description="The step, in French.")
    host_name: str | None = None
    start_date: date | None = None
    end_date: date | None = None


class ImmersionValidatedForAgency(SchemeFeedEvent):
    """The prescriber validated the PMSMP convention: the immersion will take place."""

    event_type: ClassVar[str] = "coop.agency.immersion_validated.v1"
    summary_fr: ClassVar[str] = (
        "Le prescripteur a validé la convention d'immersion (PMSMP) : elle aura lieu, chez cette "
        "structure, à ces dates."
    )

    convention_id: UUID
    objet: ImmersionObjet
    start_date: date
    end_date: date
    host_name: str


class ImmersionCancelledForAgency(SchemeFeedEvent):
    """The PMSMP convention was cancelled (or made obsolete), with its justification."""

    event_type: ClassVar[str] = "coop.agency.immersion_cancelled.v1"
    summary_fr: ClassVar[str] = (
        "La convention d'immersion est annulée (ou rendue obsolète), avec sa justification."
    )

    convention_id: UUID
    justification: str
    deprecated: bool = False


class ImmersionCompletedForAgency(SchemeFeedEvent):
    """The immersion ended: its outcome (objectives reached, the tutor's assessment, a hire and
    the job offered)."""

    event_type: ClassVar[str] = "coop.agency.immersion_completed.v1"
    summary_fr: ClassVar[str] = (
        "L'immersion est terminée, avec son bilan : objectifs atteints ou non, appréciation du "
        "tuteur, embauche et contrat proposé."
    )

    convention_id: UUID
    objectives_reached: bool
    hired: bool
    outcome: str | None = Field(
        default=None, description="completed | partially_completed | did_not_show"
    )
    job_contract_type: ContractType | None = None
    job_start_date: date | None = None


class MrsEvaluatedForAgency(SchemeFeedEvent):
    """The candidate of this referral was evaluated in an MRS session (simulation-based
    recruitment): positive or not, hired or not once the employer decided."""

    event_type: ClassVar[str] = "coop.agency.mrs_evaluated.v1"
    summary_fr: ClassVar[str] = (
        "Le candidat de l'orientation a passé une évaluation MRS (méthode de recrutement par "
        "simulation) : résultat, et embauche une fois décidée."
    )

    session_id: UUID
    rome_code: str
    positive: bool
    hired: bool | None = None
    contract_type: ContractType | None = None


class TrainingEnrolledForAgency(SchemeFeedEvent):
    """The candidate of this referral entered a POEI or POEC training."""

    event_type: ClassVar[str] = "coop.agency.training_enrolled.v1"
    summary_fr: ClassVar[str] = (
        "Le candidat de l'orientation est entré en formation POEI ou POEC (heures, dates)."
    )

    enrolment_id: UUID
    kind: TrainingKind
    hours: int
    start_date: date
    end_date: date


class TrainingCompletedForAgency(SchemeFeedEvent):
    """The POEI / POEC training ended: completed or not, hired or not, the contract after it."""

    event_type: ClassVar[str] = "coop.agency.training_completed.v1"
    summary_fr: ClassVar[str] = (
        "La formation POEI ou POEC du candidat est terminée : suivie ou interrompue, embauche "
        "ou non, contrat obtenu."
    )

    enrolment_id: UUID
    kind: TrainingKind
    completed: bool
    hired: bool
    contract_type: ContractType | None = None
    contract_months: int | None = None

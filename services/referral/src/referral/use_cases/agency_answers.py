"""An agency's answer about a referral addressed to it (acknowledged, accepted, declined,
interview scheduled, immersion requested, postponed, pooled, prior-to-hire action, transferred,
re-opened, placement started, extended, cancelled or ended, follow-up answered), applied through
the transition table — or refused, with the reason in French for the partner's staff, leaving no
trace but the dead letter's audit.

What each answer type does (its action, the referral facts it records, the event it produces) is
declared once, in :data:`shared.contracts.agency.ANSWER_TYPES`; what some do besides (a transfer
moves the referral to the new agency, a hire makes the job seeker's other referrals obsolete, a
re-opening is allowed only within a delay…) is checked and done here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import (
    ANSWER_ACTIONS,
    DURABLE_CONTRACT_TYPES,
    Actor,
    ConsentScope,
    ReferralStatus,
    TransitionNotAllowed,
    transition,
)
from referral.models import Agency, Referral
from referral.use_cases.common import (
    Logged,
    agency_names_of,
    locked_referral,
    move,
    publish,
    publish_to_network,
    routing,
)
from referral.use_cases.consents import bind_consents, consented_scopes
from referral.use_cases.hired_elsewhere import obsolete_other_referrals
from referral.use_cases.networks import FORBIDDEN
from referral.use_cases.referrals import open_referral_like
from shared import referentials
from shared.contracts import agency as answers
from shared.contracts.agency import ANSWER_TYPE_OF, AgencyResponse, AnswerType
from shared.contracts.agency_feed import ReferralTransferredWithinNetwork
from shared.contracts.base import EventData
from shared.contracts.referral import (
    ReferralAgencyChanged,
    ReferralImmersionRequested,
    ReferralStatusChanged,
)
from shared.contracts.vocabulary import ContractType
from shared.messaging.consumer import PermanentError


@dataclass(frozen=True, slots=True)
class AnswerRules:
    """The settings an answer is checked against (``ReferralSettings``)."""

    #: A declined referral may be re-opened this long after the decline.
    reopen_within: timedelta = timedelta(days=30)
    #: The delay of an answer (the expiry's): told to the agency a referral is transferred to.
    answer_within: timedelta | None = None


_COMMON_ANSWER_FIELDS = frozenset({"referral_id", "agency_id", "occurred_at", "comment"})


async def apply_agency_response(
    session: AsyncSession,
    response: AgencyResponse,
    *,
    network_id: str | None,
    event_id: str,
    received_at: datetime,
    max_clock_skew: timedelta | None = None,
    rules: AnswerRules | None = None,
) -> Referral:
    """Apply an agency's answer, or raise :class:`PermanentError` (dead-letter) saying why.

    ``network_id`` is the network whose response topic carried the answer: an answer is applied
    only to a referral addressed to that network, naming one of that network's agencies (the
    networks are competitors). Nothing is written before every check has passed, so a refused
    answer leaves no trace but the audit record of the dead letter.

    The refusals are :class:`PermanentError` with French texts saying what to do: the partners'
    staff read them in the dead letters' ``dlq_error`` and the refused-answers audit (which
    counts their ``kind``). No personal data in them: ids, codes, dates.

    ``received_at`` is when the platform received the answer (the broker record's timestamp):
    an ``occurred_at`` more than ``max_clock_skew`` away from it is refused (an agency clock
    wrong, or an answer dated to move an indicator), and the referral's facts that feed the
    indicators (first answer, acceptance, decline, placement) take ``received_at``, not the
    agency's own time; the timeline keeps the agency's time."""
    answer_type = ANSWER_TYPE_OF[type(response)]
    if max_clock_skew is not None and abs(response.occurred_at - received_at) > max_clock_skew:
        hours = max_clock_skew.total_seconds() / 3600
        raise PermanentError(
            f"occurred_at {response.occurred_at.isoformat()} est à plus de {hours:g} h de la"
            f" réception de la réponse par la plateforme ({received_at.isoformat()}) : vérifiez"
            " l'horloge et le fuseau horaire de votre logiciel, puis renvoyez la réponse.",
            details={**_facts(response), "kind": "clock_skew"},
        )
    referral = await _addressed_referral(session, response, network_id)
    current = ReferralStatus(referral.status)
    try:
        row = transition(current, answer_type.action, Actor.AGENCY)
    except TransitionNotAllowed as exc:
        hint = (
            " Pour la reprendre, rouvrez-la d'abord (coop.referral.reopened.v1)."
            if current is ReferralStatus.DECLINED
            else ""
        )
        raise PermanentError(
            f"{exc}{hint} Consultez l'état de l'orientation avant de répondre.",
            details={**_facts(response), "kind": "not_allowed"},
        ) from exc
    rules = rules or AnswerRules()
    new_agency = await _check_answer(session, response, referral, rules, received_at)

    details = response.model_dump(mode="json", exclude=set(_COMMON_ANSWER_FIELDS))
    occurred_at = response.occurred_at
    if answer_type.action in ANSWER_ACTIONS and referral.first_answer_at is None:
        referral.first_answer_at = received_at
    for fact, answer_field in answer_type.applies.items():
        value = received_at if answer_field == "occurred_at" else getattr(response, answer_field)
        setattr(referral, fact, _plain(value))
    reason = getattr(response, answer_type.reason_field) if answer_type.reason_field else None
    entry = Logged(
        answer_type.action,
        Actor.AGENCY,
        response.agency_id,
        occurred_at,
        comment=response.comment,
        reason=_plain(reason),
        details=details,
        event_id=event_id,
    )
    referral.last_news_at = received_at
    from_agency = referral.agency_id
    target = move(session, referral, row, entry, current=current)
    await _effects(session, response, referral, new_agency, received_at, rules)
    event = _event_for(answer_type, referral, response, current, target, details, from_agency)
    if isinstance(event, ReferralAgencyChanged):
        # The mails name both agencies (issue 12, item 10), not their directory ids.
        handed_over = await session.get(Agency, from_agency)
        event = event.model_copy(
            update={
                **agency_names_of(new_agency),
                "from_agency_name": handed_over.name if handed_over else None,
            }
        )
    await publish(session, event, referral, occurred_at)
    if isinstance(response, answers.ReferralTransferred):
        await _tell_network_transferred(session, referral, from_agency, received_at, rules)
    if isinstance(response, answers.PlacementStarted):
        await obsolete_other_referrals(session, referral, received_at)
    return referral


# -- what some answers check and do besides the table ------------------------------------------


def _refuse(response: AgencyResponse, message: str, kind: str = "not_allowed") -> PermanentError:
    return PermanentError(message, details={**_facts(response), "kind": kind})


async def _check_answer(
    session: AsyncSession,
    response: AgencyResponse,
    referral: Referral,
    rules: AnswerRules,
    received_at: datetime,
) -> Agency | None:
    """Refuse what the table cannot say (before anything is written); the agency a transfer
    goes to."""
    if isinstance(response, answers.ReferralPostponed):
        if response.come_back_on < received_at.date():
            raise _refuse(
                response,
                f"come_back_on {response.come_back_on.isoformat()} est déjà passé : donnez la"
                " date (à venir) à laquelle l'agence reviendra vers le candidat.",
                "invalid",
            )
    elif isinstance(response, answers.ReferralPooled):
        unknown = [code for code in response.rome_codes if not referentials.is_rome_code(code)]
        if unknown:
            raise _refuse(
                response,
                f"rome_codes : {', '.join(unknown)} inconnu(s) du référentiel ROME 4.0 :"
                " donnez les codes des métiers du vivier (ex. H2913).",
                "invalid",
            )
    elif isinstance(response, answers.DeclineReopened):
        declined_at = referral.declined_at or referral.finished_at
        if declined_at is not None and received_at - declined_at > rules.reopen_within:
            raise _refuse(
                response,
                f"Réouverture impossible : l'orientation a été déclinée il y a plus de"
                f" {rules.reopen_within.days} jours. Demandez au conseiller une nouvelle"
                " orientation.",
            )
        await _refuse_duplicate(session, response, referral, referral.agency_id)
    elif isinstance(response, answers.ReferralTransferred):
        return await _transfer_target(session, response, referral)
    elif isinstance(response, answers.PlacementExtended):
        _check_extension(response, referral)
    elif isinstance(response, answers.PlacementFollowUpAnswered):
        asked = referral.follow_up_asked_months or 0
        if response.milestone_months > asked:
            raise _refuse(
                response,
                f"Suivi à {response.milestone_months} mois pas encore demandé (dernier demandé :"
                f" {asked or 'aucun'}) : répondez au suivi reçu sur le flux"
                " (coop.agency.placement_follow_up.v1) avec son milestone_months.",
            )
    return None


async def _refuse_duplicate(
    session: AsyncSession, response: AgencyResponse, referral: Referral, agency_id: str
) -> None:
    existing = await open_referral_like(
        session,
        referral.job_seeker_id,
        agency_id,
        referral.offer_id,
        referral.rome_code,
        besides=referral.id,
    )
    if existing is not None:
        raise _refuse(
            response,
            f"Une autre orientation de ce candidat vers l'agence {agency_id} pour ce poste est"
            f" déjà en cours ({existing}) : traitez celle-ci.",
            "duplicate",
        )


async def _transfer_target(
    session: AsyncSession, response: answers.ReferralTransferred, referral: Referral
) -> Agency:
    target = await session.get(Agency, response.to_agency_id)
    if target is None or target.network_id != referral.network_id:
        raise _refuse(
            response,
            f"Transfert impossible : l'agence {response.to_agency_id} n'est pas une agence du"
            f" réseau {referral.network_id}. Un transfert se fait vers une agence du même"
            " réseau (identifiant de l'annuaire).",
            FORBIDDEN,
        )
    if target.id == referral.agency_id:
        raise _refuse(
            response,
            "Transfert impossible : l'orientation est déjà adressée à cette agence.",
            "invalid",
        )
    if not target.active:
        raise _refuse(
            response,
            f"Transfert impossible : l'agence {target.id} est désactivée dans l'annuaire.",
            "invalid",
        )
    await _refuse_duplicate(session, response, referral, target.id)
    return target


def _check_extension(response: answers.PlacementExtended, referral: Referral) -> None:
    contract = referral.placement_contract_type
    if contract is not None and ContractType(contract) in DURABLE_CONTRACT_TYPES:
        raise _refuse(
            response,
            f"Prolongation sans objet : un contrat {ContractType(contract).label} n'a pas de"
            " date de fin.",
            "invalid",
        )
    floor = referral.placement_expected_end_date or referral.placement_start_date
    if floor is not None and response.new_end_date <= floor:
        raise _refuse(
            response,
            f"new_end_date {response.new_end_date.isoformat()} doit être après la fin prévue"
            f" jusqu'ici ({floor.isoformat()}).",
            "invalid",
        )


async def _effects(
    session: AsyncSession,
    response: AgencyResponse,
    referral: Referral,
    new_agency: Agency | None,
    received_at: datetime,
    rules: AnswerRules,
) -> None:
    """What an applied answer changes besides its facts."""
    if isinstance(response, answers.DeclineReopened):
        # No longer declined: the indicators stop counting the decline, the expiry's delay runs
        # again from now.
        referral.declined_at = None
        referral.decline_reason = None
        referral.awaiting_answer_since = received_at
    elif isinstance(response, answers.HireCancelled):
        referral.placed_at = None  # not a placement (the log keeps what was recorded)
    elif isinstance(response, answers.PlacementFollowUpAnswered):
        referral.follow_up_answered_at = received_at
        if response.still_employed:
            referral.still_employed_months = max(
                referral.still_employed_months or 0, response.milestone_months
            )
    elif isinstance(response, answers.ReferralTransferred) and new_agency is not None:
        referral.transferred_from_agency_id = referral.agency_id
        referral.agency_id = new_agency.id
        referral.awaiting_answer_since = received_at
        referral.stale_reminded_at = None
        # Identity and RQTH were consented for the first agency: they follow only with the job
        # seeker's consent for the new one (then taken by this referral).
        scopes = await consented_scopes(session, referral.job_seeker_id, new_agency.id)
        identity = referral.identity_shared and ConsentScope.IDENTITY in scopes
        rqth = identity and referral.rqth_shared and ConsentScope.RQTH in scopes
        referral.identity_shared, referral.rqth_shared = identity, rqth
        await bind_consents(session, referral, identity=identity, rqth=rqth)


async def _tell_network_transferred(
    session: AsyncSession,
    referral: Referral,
    from_agency: str,
    at: datetime,
    rules: AnswerRules,
) -> None:
    await publish_to_network(
        session,
        ReferralTransferredWithinNetwork(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            from_agency_id=from_agency,
            identity_shared=referral.identity_shared,
            transferred_at=at,
            answer_before=at + rules.answer_within if rules.answer_within else None,
        ),
        referral,
        at,
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _facts(response: AgencyResponse) -> dict[str, str]:
    return {"referral_id": str(response.referral_id), "agency_id": response.agency_id}


async def _addressed_referral(
    session: AsyncSession, response: AgencyResponse, network_id: str | None
) -> Referral:
    """The referral the answer is about, locked, if the answer may apply to it: received on a
    network's topic, about a referral addressed to that network and to the answering agency."""
    facts = _facts(response)
    if network_id is None:
        raise PermanentError(
            "Réponse reçue hors du sujet de réponses d'un réseau d'agences"
            " (agency.<réseau>.responses) : publiez-la sur le sujet de votre réseau.",
            details={**facts, "kind": FORBIDDEN},
        )
    referral = await locked_referral(session, response.referral_id)
    if referral is None:
        raise PermanentError(
            f"Orientation {response.referral_id} inconnue : vérifiez le referral_id (celui de"
            " l'événement coop.agency.referral_received.v1 reçu sur votre flux).",
            details={**facts, "kind": "unknown"},
        )
    if referral.network_id != network_id:
        raise PermanentError(
            f"L'orientation {response.referral_id} n'est pas adressée au réseau {network_id} :"
            " répondez seulement aux orientations reçues sur votre flux.",
            details={**facts, "kind": FORBIDDEN},
        )
    agency = await session.get(Agency, response.agency_id)
    if agency is None or agency.network_id != network_id:
        raise PermanentError(
            f"L'agence {response.agency_id} n'appartient pas au réseau {network_id} : vérifiez"
            " l'agency_id (identifiant de l'annuaire de la plateforme).",
            details={**facts, "kind": FORBIDDEN},
        )
    if referral.agency_id != response.agency_id:
        raise PermanentError(
            f"L'orientation {response.referral_id} n'est pas adressée à l'agence"
            f" {response.agency_id} (elle l'est à {referral.agency_id}, par exemple après un"
            " transfert) : répondez avec l'agency_id de l'agence destinataire.",
            details={**facts, "kind": "wrong_agency"},
        )
    return referral


def _event_for(
    answer_type: AnswerType,
    referral: Referral,
    response: AgencyResponse,
    current: ReferralStatus,
    target: ReferralStatus,
    details: dict[str, Any],
    from_agency: str,
) -> EventData:
    """What ``referral.events`` learns of an applied answer."""
    fields = {name: getattr(response, source) for name, source in answer_type.event_fields.items()}
    if answer_type.produces is ReferralAgencyChanged:
        fields.update(from_agency_id=from_agency, from_status=current, to_status=target)
    elif answer_type.produces is ReferralImmersionRequested:
        # Checked above: the referral is addressed to this agency and still in progress.
        fields.update(job_seeker_id=referral.job_seeker_id, rome_code=referral.rome_code)
    elif answer_type.produces is ReferralStatusChanged:
        fields.update(
            from_status=current,
            to_status=target,
            action=answer_type.action,
            details=details,
            occurred_at=response.occurred_at,
            comment=response.comment,
        )
        if current is ReferralStatus.PLACED and target is ReferralStatus.PLACED:
            # An extension or a follow-up answer: the placement as it now stands, so that a
            # reader of "to placed" (dispositifs credits the schemes) records the same hire.
            contract = referral.placement_contract_type
            fields.update(
                contract_type=ContractType(contract) if contract else None,
                placement_start_date=referral.placement_start_date,
                placement_end_date=referral.placement_expected_end_date,
            )
    return answer_type.produces(**routing(referral), **fields)

"""Consumers of the referral service:

- ``agency.<network>.responses`` (every network's, by pattern): every agency answer, applied
  through the transition table; an answer from another network, not allowed from the referral's
  state, from another agency or about an unknown referral is dead-lettered with the reason
  (``PermanentError``), nothing of it is kept, and the refusal is audited and counted;
- ``dispositifs.events``: immersion, MRS and training events that carry a ``referral_id`` go on
  that referral's timeline and feed the indicators;
- ``dispositifs.events`` and ``notifications.events``: each service's erasure report completes
  the erasure request it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from referral.domain import Scheme
from referral.settings import ReferralSettings
from referral.use_cases.agency_answers import AnswerRules, apply_agency_response
from referral.use_cases.agency_requests import apply_agency_request
from referral.use_cases.erasure import record_erasure_report
from referral.use_cases.networks import record_refused_response
from referral.use_cases.offer_answers import register_offer_answers
from referral.use_cases.scheme_events import FEED_OF, SchemeFact, record_scheme_event, tell_network
from shared.contracts import dispositifs as d
from shared.contracts.agency import ANSWER_TYPES, AgencyResponse
from shared.contracts.agency_requests import REQUEST_TYPES
from shared.contracts.base import EventData
from shared.contracts.erasure import DispositifsErasureCompleted, NotificationsErasureCompleted
from shared.contracts.topics import (
    AGENCY_RESPONSES_TOPIC_PATTERN,
    DISPOSITIFS_EVENTS,
    NOTIFICATIONS_EVENTS,
    network_of_responses_topic,
)
from shared.messaging.consumer import EventContext, HandlerRegistry, PermanentError
from shared.runtime import ConsumerSpec


def agency_response_handlers(
    network_of: Callable[[str], str | None] = network_of_responses_topic,
    *,
    max_clock_skew: timedelta | None = timedelta(hours=24),
    rules: AnswerRules | None = None,
) -> HandlerRegistry:
    """``network_of`` tells which network a topic belongs to (tests map their own topics).

    Every answer type of ``ANSWER_TYPES`` is applied; anything else on a responses topic (a
    known event type that is not an answer, e.g. a feed event sent back by an ERP) is refused:
    dead-lettered, audited and counted like every refusal — never silently skipped."""
    registry = HandlerRegistry()

    async def on_answer(context: EventContext[AgencyResponse]) -> None:
        await apply_agency_response(
            context.session,
            context.data,
            network_id=network_of(context.delivery.topic),
            event_id=context.event.id,
            received_at=context.delivery.timestamp or datetime.now(UTC),
            max_clock_skew=max_clock_skew,
            rules=rules,
        )

    async def not_an_answer(context: EventContext[Any]) -> None:
        raise PermanentError(
            f"{context.event.type} n'est pas une réponse d'agence : le sujet de réponses"
            " n'accepte que "
            + ", ".join(t.model.event_type for t in (*ANSWER_TYPES, *REQUEST_TYPES))
            + " (voir docs/asyncapi.yaml).",
            details={"kind": "not_an_answer"},
        )

    async def on_request(context: EventContext[AgencyResponse]) -> None:
        await apply_agency_request(
            context.session,
            context.data,
            network_id=network_of(context.delivery.topic),
            event_id=context.event.id,
        )

    for answer_type in ANSWER_TYPES:
        registry.on(answer_type.model)(on_answer)
    for request_type in REQUEST_TYPES:  # what an agency asks besides answering (a POEI)
        registry.on(request_type.model)(on_request)
    register_offer_answers(registry, network_of)  # issue 16: answers to hard-to-fill offers
    registry.otherwise(not_an_answer)
    return registry


def _fmt(day: Any) -> str:
    return day.strftime("%d/%m/%Y")


#: For each dispositifs event: its scheme, its aggregate id, its timeline label, the hire it
#: reports (None: says nothing about hiring).
_DESCRIBE: dict[type[EventData], Callable[[Any], tuple[Scheme, str, str, bool | None]]] = {
    d.ImmersionConventionRequested: lambda e: (
        Scheme.IMMERSION,
        str(e.convention_id),
        f"Immersion demandée chez {e.host_name} du {_fmt(e.start_date)} au {_fmt(e.end_date)}"
        f" ({e.objet.label})",
        None,
    ),
    d.ImmersionRejected: lambda e: (
        Scheme.IMMERSION,
        str(e.convention_id),
        f"Immersion refusée : {e.reason}" + (f" ({e.article})" if e.article else ""),
        None,
    ),
    d.ImmersionValidated: lambda e: (
        Scheme.IMMERSION,
        str(e.convention_id),
        f"Immersion validée chez {e.host_name} du {_fmt(e.start_date)} au {_fmt(e.end_date)}",
        None,
    ),
    d.ImmersionCancelled: lambda e: (
        Scheme.IMMERSION,
        str(e.convention_id),
        f"Immersion annulée : {e.justification}",
        None,
    ),
    d.ImmersionCompleted: lambda e: (
        Scheme.IMMERSION,
        str(e.convention_id),
        "Immersion terminée"
        + (" — objectifs atteints" if e.objectives_reached else " — objectifs non atteints")
        + (" — embauche" if e.hired else ""),
        e.hired,
    ),
    d.MrsEvaluated: lambda e: (
        Scheme.MRS,
        str(e.session_id),
        f"Évaluation MRS {'positive' if e.positive else 'négative'} ({e.rome_code})"
        + (" — recruté" if e.hired else ""),
        e.hired,
    ),
    d.TrainingEnrolled: lambda e: (
        Scheme(e.kind.value),
        str(e.enrolment_id),
        f"Entrée en {e.kind.value.upper()} ({e.hours} h, du {_fmt(e.start_date)}"
        f" au {_fmt(e.end_date)})",
        None,
    ),
    d.TrainingCompleted: lambda e: (
        Scheme(e.kind.value),
        str(e.enrolment_id),
        f"{e.kind.value.upper()} {'terminée' if e.completed else 'interrompue'}"
        + (" — embauche" if e.hired else ""),
        e.hired,
    ),
}


def dispositifs_handlers() -> HandlerRegistry:
    registry = HandlerRegistry()

    async def on_scheme_event(context: EventContext[Any]) -> None:
        data = context.data
        if data.referral_id is None:
            return  # a scheme that serves no referral: not this service's business
        if type(data) in _DESCRIBE:
            await _on_timeline(context)
        await tell_network(context.session, data)  # the agency's feed (FEED_OF)

    async def _on_timeline(context: EventContext[Any]) -> None:
        data = context.data
        scheme, scheme_ref, label, hired = _DESCRIBE[type(data)](data)
        await record_scheme_event(
            context.session,
            SchemeFact(
                referral_id=data.referral_id,
                event_id=context.event.id,
                event_type=context.event.type,
                scheme=scheme,
                scheme_ref=scheme_ref,
                label=label,
                hired=hired,
                data=data.model_dump(mode="json"),
                occurred_at=data.occurred_at,
            ),
        )

    for model in {**_DESCRIBE, **FEED_OF}:
        registry.on(model)(on_scheme_event)
    registry.on(DispositifsErasureCompleted)(_on_erasure_report)
    return registry


async def _on_erasure_report(context: EventContext[Any]) -> None:
    await record_erasure_report(context.session, context.data)


def notifications_handlers() -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.on(NotificationsErasureCompleted)(_on_erasure_report)
    return registry


def consumers(settings: ReferralSettings | None = None) -> list[ConsumerSpec]:
    skew = settings.agency_max_clock_skew_seconds if settings else 24 * 3600
    return [
        ConsumerSpec(
            name="referral.agency-responses",
            topics=[],
            pattern=AGENCY_RESPONSES_TOPIC_PATTERN,
            registry=agency_response_handlers(
                max_clock_skew=timedelta(seconds=skew),
                rules=AnswerRules(
                    reopen_within=timedelta(days=settings.reopen_decline_days),
                    answer_within=settings.expiry_delay,
                )
                if settings
                else None,
            ),
            on_dead_letter=record_refused_response,
        ),
        ConsumerSpec(
            name="referral.dispositifs-events",
            topics=[DISPOSITIFS_EVENTS],
            registry=dispositifs_handlers(),
        ),
        ConsumerSpec(
            name="referral.notifications-events",
            topics=[NOTIFICATIONS_EVENTS],
            registry=notifications_handlers(),
        ),
    ]

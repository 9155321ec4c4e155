"""Consumers of the notifications service: one table, event type → use cases. Every business event
that someone must hear about becomes messages (:func:`notifications.use_cases.messages.record`);
events that reminders depend on are followed first (:func:`notifications.use_cases.following.
follow`), in the same transaction. Sending is the delivery worker's job, never the consumer's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from notifications.access import SYSTEM
from notifications.domain.catalog import ROUTING
from notifications.domain.following import TRACKED
from notifications.domain.messages import Cause
from notifications.use_cases import erasure, following, messages, recipients
from shared.contracts import EVENT_TYPES, EventData
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.job_seeker_contact import JobSeekerContactConsented, JobSeekerContactWithdrawn
from shared.contracts.topics import DISPOSITIFS_EVENTS, REFERRAL_EVENTS, TopicSpec
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

Handler = Callable[[EventContext[EventData]], Awaitable[None]]


def event_handler(referral_url_template: str | None = None) -> Handler:
    """The handler of every routed or followed event; mails link to the referral in the
    counsellor's tool when ``referral_url_template`` is set (``NOTIFICATIONS_COUNSELLOR_
    REFERRAL_URL``)."""

    async def on_event(context: EventContext[EventData]) -> None:
        """Follow the state the event changes, then record who must be told (one transaction)."""
        await following.follow(following.Follow(context.data), SYSTEM, context.session)
        cause = Cause.from_event(context.event, context.data)
        await messages.record(
            messages.RecordMessages(cause, referral_url_template=referral_url_template),
            SYSTEM,
            context.session,
        )

    return on_event


#: The event types handled by :func:`event_handler`: every one routed to someone (routing.toml)
#: or followed.
HANDLED: tuple[str, ...] = tuple(
    event_type
    for event_type in sorted(EVENT_TYPES)
    if event_type in ROUTING.routed_triggers | TRACKED
)
on_event = event_handler()

#: Event type → handler (without a link to the counsellor's tool).
HANDLERS: dict[str, Handler] = dict.fromkeys(HANDLED, on_event)


def registry_for(topic: TopicSpec, handler: Handler = on_event) -> HandlerRegistry:
    """``handler`` for the event types of :data:`HANDLED` that travel on ``topic``."""
    registry = HandlerRegistry()
    for event_type in HANDLED:
        model = EVENT_TYPES[event_type]
        if model.topic == topic.name:
            registry.on(model)(handler)
    return registry


async def on_erasure(context: EventContext[JobSeekerErasureRequested]) -> None:
    await erasure.erase_job_seeker(erasure.EraseJobSeeker(context.data), SYSTEM, context.session)


async def on_contact_consented(context: EventContext[JobSeekerContactConsented]) -> None:
    await recipients.remember_contact(
        recipients.RememberContact(context.data), SYSTEM, context.session
    )


async def on_contact_withdrawn(context: EventContext[JobSeekerContactWithdrawn]) -> None:
    await recipients.forget_contact(recipients.ForgetContact(context.data), SYSTEM, context.session)


def referral_events_registry(handler: Handler = on_event) -> HandlerRegistry:
    registry = registry_for(REFERRAL_EVENTS, handler)
    registry.on(JobSeekerErasureRequested)(on_erasure)
    registry.on(JobSeekerContactConsented)(on_contact_consented)
    registry.on(JobSeekerContactWithdrawn)(on_contact_withdrawn)
    return registry


referral_events = referral_events_registry()
dispositifs_events = registry_for(DISPOSITIFS_EVENTS)


def consumers(referral_url_template: str | None = None) -> list[ConsumerSpec]:
    """The service's consumers; mails link to ``referral_url_template`` when set."""
    handler = event_handler(referral_url_template)
    return [
        ConsumerSpec(
            name="notifications.referral-events",
            topics=[REFERRAL_EVENTS],
            registry=referral_events_registry(handler),
        ),
        ConsumerSpec(
            name="notifications.dispositifs-events",
            topics=[DISPOSITIFS_EVENTS],
            registry=registry_for(DISPOSITIFS_EVENTS, handler),
        ),
    ]


CONSUMERS = consumers()

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
from notifications.use_cases import erasure, following, messages
from shared.contracts import EVENT_TYPES, EventData
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.topics import DISPOSITIFS_EVENTS, REFERRAL_EVENTS, TopicSpec
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

Handler = Callable[[EventContext[EventData]], Awaitable[None]]


async def on_event(context: EventContext[EventData]) -> None:
    """Follow the state the event changes, then record who must be told (one transaction)."""
    await following.follow(following.Follow(context.data), SYSTEM, context.session)
    cause = Cause.from_event(context.event, context.data)
    await messages.record(messages.RecordMessages(cause), SYSTEM, context.session)


#: Event type → handler: every event type routed to someone (routing.toml) or followed.
HANDLERS: dict[str, Handler] = {
    event_type: on_event
    for event_type in sorted(EVENT_TYPES)
    if event_type in ROUTING.routed_triggers | TRACKED
}


def registry_for(topic: TopicSpec) -> HandlerRegistry:
    """The handlers of :data:`HANDLERS` for the event types of ``topic``."""
    registry = HandlerRegistry()
    for event_type, handler in HANDLERS.items():
        model = EVENT_TYPES[event_type]
        if model.topic == topic.name:
            registry.on(model)(handler)
    return registry


async def on_erasure(context: EventContext[JobSeekerErasureRequested]) -> None:
    await erasure.erase_job_seeker(erasure.EraseJobSeeker(context.data), SYSTEM, context.session)


referral_events = registry_for(REFERRAL_EVENTS)
referral_events.on(JobSeekerErasureRequested)(on_erasure)
dispositifs_events = registry_for(DISPOSITIFS_EVENTS)

CONSUMERS = [
    ConsumerSpec(
        name="notifications.referral-events", topics=[REFERRAL_EVENTS], registry=referral_events
    ),
    ConsumerSpec(
        name="notifications.dispositifs-events",
        topics=[DISPOSITIFS_EVENTS],
        registry=dispositifs_events,
    ),
]

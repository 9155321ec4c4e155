"""Consumers of the notifications service: every business event that someone must hear about
becomes messages (``notifications.messages``); events that reminders depend on are followed
(``notifications.following``). Sending is the delivery worker's job, never the consumer's."""

from __future__ import annotations

from notifications import following, messages
from notifications.catalog import ROUTING, TEMPLATES
from shared.contracts import EVENT_TYPES, EventData
from shared.contracts.topics import DISPOSITIFS_EVENTS, REFERRAL_EVENTS, TopicSpec
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec


async def on_event(context: EventContext[EventData]) -> None:
    """Follow the state the event changes, then record who must be told (one transaction)."""
    await following.follow(context.session, context.data)
    await messages.record(
        context.session,
        messages.Cause.from_event(context.event, context.data),
        ROUTING,
        TEMPLATES,
    )


def registry_for(topic: TopicSpec) -> HandlerRegistry:
    """Handlers for every event type of ``topic`` that is routed to someone or followed."""
    registry = HandlerRegistry()
    wanted = ROUTING.routed_triggers | following.TRACKED
    for event_type, model in sorted(EVENT_TYPES.items()):
        if model.topic == topic.name and event_type in wanted:
            registry.on(model)(on_event)
    return registry


referral_events = registry_for(REFERRAL_EVENTS)
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

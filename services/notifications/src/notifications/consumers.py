"""Consumers of the notifications service: one table, event type → use cases. Every business event
that someone must hear about becomes messages (:func:`notifications.use_cases.messages.record`);
events that reminders depend on are followed first (:func:`notifications.use_cases.following.
follow`), in the same transaction. Sending is the delivery worker's job, never the consumer's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.access import SYSTEM
from notifications.domain.catalog import ROUTING
from notifications.domain.following import TRACKED
from notifications.domain.messages import Cause
from notifications.use_cases import erasure, following, messages, recipients
from shared.contracts import EVENT_TYPES, EventData
from shared.contracts.dispositifs import ImmersionValidated
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.job_seeker_contact import JobSeekerContactConsented, JobSeekerContactWithdrawn
from shared.contracts.topics import DISPOSITIFS_EVENTS, REFERRAL_EVENTS, TopicSpec
from shared.messaging.consumer import EventContext, HandlerRegistry
from shared.runtime import ConsumerSpec

Handler = Callable[[EventContext[EventData]], Awaitable[None]]


class EventHandler:
    """The handler of every routed or followed event; mails link to the referral in the
    counsellor's tool when ``referral_url_template`` is set (``NOTIFICATIONS_COUNSELLOR_
    REFERRAL_URL``).

    A :class:`shared.messaging.consumer.BatchHandler`: the consumer gives it the records of one
    event type of a batch together (:meth:`apply_batch`), and it follows and records them in a few
    statements for the whole run instead of a few per record — with the rows that handling them
    one by one, in order, would leave."""

    def __init__(self, referral_url_template: str | None = None) -> None:
        self.referral_url_template = referral_url_template

    async def __call__(self, context: EventContext[EventData]) -> None:
        """Follow the state the event changes, then record who must be told (one transaction)."""
        await following.follow(following.Follow(context.data), SYSTEM, context.session)
        cause = Cause.from_event(context.event, context.data)
        await messages.record(
            messages.RecordMessages(cause, referral_url_template=self.referral_url_template),
            SYSTEM,
            context.session,
        )

    async def apply_batch(
        self, contexts: Sequence[EventContext[EventData]], session: AsyncSession
    ) -> None:
        """Follow every event of the run, then record every one's messages: the same rows as one
        by one, since these events' following changes nothing their messages read (a referral's
        status is not in its messages) — except :data:`ONE_BY_ONE`'s."""
        if contexts[0].event.type in ONE_BY_ONE:
            for context in contexts:
                await self(context)
            return
        await following.follow_many(
            following.FollowMany([context.data for context in contexts]), SYSTEM, session
        )
        await messages.record_many(
            messages.RecordManyMessages(
                [Cause.from_event(context.event, context.data) for context in contexts],
                referral_url_template=self.referral_url_template,
            ),
            SYSTEM,
            session,
        )


#: Followed events whose following writes what their messages read: a validated immersion's
#: tutor becomes the directory entry its message goes to (two of one convention in a batch: each
#: message to the tutor as that event named them).
ONE_BY_ONE = frozenset({ImmersionValidated.event_type})


def event_handler(referral_url_template: str | None = None) -> EventHandler:
    """The handler of every routed or followed event (:class:`EventHandler`)."""
    return EventHandler(referral_url_template)


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

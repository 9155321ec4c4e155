"""The one consumer loop of the platform.

For each record: read the CloudEvent, validate its data against the contract, then in one database
transaction claim it in the inbox and apply the handler. Offsets are committed only after that
transaction. Records that can never succeed go to ``<topic>.dlq`` with the reason in headers and the
partition moves on; transient failures are retried with backoff.

In batch mode (the default), the records a fetch brings for one partition are applied in one
transaction: their claims in two statements, their handlers in offset order. If anything in it
fails, the transaction is rolled back and the same records are applied one by one as above, so a
poison record is still isolated and dead-lettered and the others applied exactly once. A record
that cannot be read, or whose handler was registered with ``batch=False``, is always applied on its
own, in its place in the order.

Within a batch, a handler that also offers ``apply_batch(contexts, session)`` (a
:class:`BatchHandler`) gets each run of consecutive fresh records of one event type in one call,
in offset order, in the batch's transaction, instead of one call per record: it may then read and
write for the whole run in a few statements. Its effect must be that of calling it once per record
in that order. The one-by-one fallback (and a record alone) still calls it per record, so a poison
record is isolated the same way.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.base import EventData, UnknownEventType, event_model_for
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.db.tables import PlatformTables
from shared.domain.errors import DomainError
from shared.envelope import CloudEvent, EnvelopeError
from shared.messaging import processed_events
from shared.messaging.dead_letter import DeadLetterReason, dead_letter_for
from shared.messaging.kafka import CONSUMER_FETCH_OPTIONS, client_options
from shared.messaging.provisioning import ensure_topics
from shared.observability.context import set_traceparent
from shared.observability.metrics import (
    CONSUMER_BATCHES,
    CONSUMER_LAG,
    EVENT_HANDLING_SECONDS,
    EVENT_RETRIES,
    EVENTS_CONSUMED,
)
from shared.observability.tracing import SpanKind, span
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=EventData)


class PermanentError(Exception):
    """This event can never be applied (e.g. a transition not allowed from the current state).

    The consumer dead-letters it with this message as the reason; nothing of its effect is kept.
    ``details`` travel to the consumer's dead-letter hook (e.g. for an audit record).
    """

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class DeadLetterNotice:
    """What a dead-letter hook learns, once the record is safely on the dead-letter topic."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    event_id: str | None
    event_type: str | None
    reason: str
    error: str
    details: dict[str, Any]


#: Gets the notice and the consumer's database (the hook writes in a transaction of its own).
DeadLetterHook = Callable[[DeadLetterNotice, Database], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a record came from."""

    topic: str
    partition: int
    offset: int
    #: The record's broker timestamp (producer create time or log append time), if it has one.
    timestamp: datetime | None = None


@dataclass(slots=True)
class EventContext(Generic[E]):
    """What a handler gets: the event, its typed data, and the transaction to work in."""

    event: CloudEvent
    data: E
    session: AsyncSession
    delivery: Delivery


Handler = Callable[[EventContext[Any]], Awaitable[None]]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that can also apply, at once, a run of records of one event type (see the
    module's doc): ``apply_batch`` must leave what calling the handler on each context in order
    would. Registered like any handler (``registry.on(Model)(handler)``)."""

    async def __call__(self, context: EventContext[Any], /) -> None: ...

    async def apply_batch(
        self, contexts: Sequence[EventContext[Any]], session: AsyncSession, /
    ) -> None: ...


class HandlerRegistry:
    """Maps event types to handlers: ``@registry.on(ReferralSent)``."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._alone: set[str] = set()
        self._otherwise: Handler | None = None

    def on(
        self, model: type[E], *, batch: bool = True
    ) -> Callable[[Callable[[EventContext[E]], Awaitable[None]]], Any]:
        """Register a handler. ``batch=False`` when it must have a transaction of its own (e.g. it
        does something outside the store that a rolled-back batch would repeat)."""

        def register(handler: Callable[[EventContext[E]], Awaitable[None]]) -> Any:
            if model.event_type in self._handlers:
                raise ValueError(f"{model.event_type} already has a handler")
            self._handlers[model.event_type] = handler
            if not batch:
                self._alone.add(model.event_type)
            return handler

        return register

    def otherwise(self, handler: Handler) -> Handler:
        """The handler of every known event type that has none of its own (without one, such
        events are skipped as ``ignored``): e.g. a catch-all that refuses, so that nothing on a
        topic goes unnoticed."""
        self._otherwise = handler
        return handler

    def get(self, event_type: str) -> Handler | None:
        return self._handlers.get(event_type, self._otherwise)

    def batchable(self, event_type: str) -> bool:
        return event_type not in self._alone

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._handlers)


@dataclass
class _Outcome:
    kind: str  # processed | duplicate | ignored | dead_lettered
    reason: str | None = None


@dataclass
class ConsumerStatus:
    running: bool = False
    assigned: set[TopicPartition] = field(default_factory=set)
    last_error: str | None = None
    #: Records not yet consumed on the assigned partitions (None until first measured).
    lag: int | None = None


@dataclass(slots=True, eq=False)  # compared and hashed by identity
class _Ready:
    """A record read and validated, ready to be applied in a batch (``handler`` None: ignored)."""

    record: Any
    delivery: Delivery
    event: CloudEvent
    data: EventData | None
    handler: Handler | None


def _is_infrastructure_error(exc: BaseException) -> bool:
    """Failures of the store or network, not of the event: retry without giving up."""
    if isinstance(exc, OperationalError | ConnectionError | TimeoutError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _is_data_error(exc: BaseException, attempt: int) -> bool:
    """The store refused the event's values: malformed or too long for a column (permanent at
    once), or a constraint still failing on the second attempt (a race between two writers
    resolves on a retry; a value in conflict does not)."""
    if _is_infrastructure_error(exc):
        return False
    return isinstance(exc, DataError) or (isinstance(exc, IntegrityError) and attempt >= 2)


def _error_type(exc: BaseException) -> str:
    """The exception's class (and the driver's, for a database error): never its message."""
    name = type(exc).__name__
    original = getattr(exc, "orig", None)
    return f"{name} ({type(original).__name__})" if original is not None else name


class EventConsumer:
    """Consumes ``topics`` in consumer group ``name`` and applies ``registry``'s handlers."""

    def __init__(
        self,
        *,
        name: str,
        topics: Iterable[str] = (),
        pattern: str | None = None,
        registry: HandlerRegistry,
        database: Database,
        tables: PlatformTables,
        settings: ServiceSettings,
        producer_factory: Callable[[], AIOKafkaProducer],
        on_dead_letter: DeadLetterHook | None = None,
        batch: bool = True,
        max_batch: int = 50,
    ) -> None:
        self.name = name
        #: Apply each fetched batch of a partition in one transaction (see the module's doc).
        self.batch = batch
        #: At most this many records per transaction: on SQLite a batch holds the write lock
        #: for its whole length, and HTTP writers wait behind it.
        self.max_batch = max(1, max_batch)
        self._on_dead_letter = on_dead_letter
        self.topics = list(topics)
        #: A regex subscription (e.g. every network's response topic); new matching topics are
        #: picked up at the next metadata refresh (``kafka_metadata_max_age_ms``).
        self.pattern = pattern
        if bool(self.topics) == bool(pattern):
            raise ValueError("give either topics or a pattern")
        self._registry = registry
        self._db = database
        self._tables = tables
        self._settings = settings
        self._service = settings.service_name
        self._producer_factory = producer_factory
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._pending_commits: dict[TopicPartition, int] = {}
        #: The offset commit on its way to the broker while the loop fetches and applies the next
        #: records (one at a time; awaited before the next commit, a revocation and closing).
        self._commit_in_flight: asyncio.Task[None] | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._dead_letter_topics_ready: set[str] = set()
        self.status = ConsumerStatus()

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until :meth:`stop`; reconnect with backoff when the broker is unreachable."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._start_clients()
                failures = 0
                self.status.last_error = None
                await self._consume_loop()
            except asyncio.CancelledError:
                # Killed, not stopped: leave the group without committing anything more, as a
                # crash would (what was applied but not committed is redelivered and deduped).
                await self._close_clients(commit=False)
                raise
            except Exception as exc:
                failures += 1
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                delay = min(30.0, 0.5 * 2 ** min(failures, 10)) * random.uniform(0.8, 1.2)
                log.warning(
                    "consumer failed, restarting",
                    consumer=self.name,
                    error=self.status.last_error,
                    retry_in=round(delay, 2),
                )
                await self._close_clients(commit=False)
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                except TimeoutError:
                    pass
        await self._close_clients(commit=True)

    async def stop(self) -> None:
        """Finish the record in hand, commit, leave the group."""
        self._stopping.set()

    async def _start_clients(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            group_id=self.name,
            client_id=f"{self._service}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **CONSUMER_FETCH_OPTIONS,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            max_poll_interval_ms=300_000,
            metadata_max_age_ms=self._settings.kafka_metadata_max_age_ms,
        )
        self._consumer = consumer
        await consumer.start()
        if self.pattern:
            consumer.subscribe(pattern=self.pattern, listener=_RebalanceListener(self))
        else:
            consumer.subscribe(self.topics, listener=_RebalanceListener(self))
        producer = self._producer_factory()
        self._dlq_producer = producer
        await producer.start()
        self.status.running = True

    async def _close_clients(self, *, commit: bool) -> None:
        self.status.running = False
        self.status.assigned = set()
        consumer, self._consumer = self._consumer, None
        producer, self._dlq_producer = self._dlq_producer, None
        if consumer is not None:
            if commit:
                await self._commit(consumer)
            else:
                await self._drop_commit_in_flight()
            try:
                await asyncio.wait_for(consumer.stop(), timeout=15)  # leaves the group
            except Exception as exc:
                log.debug("consumer stop failed", consumer=self.name, error=str(exc))
        self._pending_commits.clear()
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout=15)
            except Exception as exc:
                log.debug("dlq producer stop failed", consumer=self.name, error=str(exc))

    # -- the loop ------------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            self.status.assigned = set(consumer.assignment())
            for tp, records in batches.items():
                if self._stopping.is_set():
                    break
                if self.batch and len(records) > 1:
                    await self._handle_batch(tp, records)
                else:
                    await self._handle_one_by_one(tp, records)
            self._commit_soon(consumer)
            self._record_lag(consumer)

    def _advance(self, tp: TopicPartition, record: Any) -> None:
        self._pending_commits[tp] = record.offset + 1
        self._positions[tp] = record.offset + 1

    async def _handle_one_by_one(self, tp: TopicPartition, records: list[Any]) -> bool:
        """Each record in its own transaction. False when stopping before the end."""
        for record in records:
            if self._stopping.is_set():
                return False
            handled = await self._handle_record(record)
            if not handled:  # stopping in the middle of retries: redeliver later
                return False
            self._advance(tp, record)
        return True

    async def _handle_batch(self, tp: TopicPartition, records: list[Any]) -> bool:
        """Runs of readable, batchable records in one transaction each; the others alone."""
        run: list[_Ready] = []
        for record in records:
            ready = self._ready(record)
            if ready is not None:
                run.append(ready)
                if len(run) >= self.max_batch:
                    if not await self._apply_run(tp, run):
                        return False
                    run = []
                continue
            if not await self._apply_run(tp, run):
                return False
            run = []
            if self._stopping.is_set() or not await self._handle_record(record):
                return False
            self._advance(tp, record)
        return await self._apply_run(tp, run)

    def _ready(self, record: Any) -> _Ready | None:
        """The record read and validated, or None when it must go alone (unreadable, unknown,
        invalid — to be dead-lettered — or a handler that refuses batches)."""
        try:
            event = CloudEvent.from_kafka(record.value, record.headers)
            model = event_model_for(event.type)
        except (EnvelopeError, UnknownEventType):
            return None
        delivery = Delivery(record.topic, record.partition, record.offset, _record_time(record))
        handler = self._registry.get(event.type)
        if handler is None:
            return _Ready(record, delivery, event, None, None)
        if not self._registry.batchable(event.type):
            return None
        try:
            data = model.model_validate(event.data)
        except ValidationError:
            return None
        return _Ready(record, delivery, event, data, handler)

    async def _apply_run(self, tp: TopicPartition, run: list[_Ready]) -> bool:
        if not run:
            return True
        if all(ready.handler is None for ready in run):  # nothing to apply: no transaction
            EVENTS_CONSUMED.labels(self._service, self.name, tp.topic, "ignored").inc(len(run))
            self._advance(tp, run[-1].record)
            return True
        if len(run) == 1:
            return await self._handle_one_by_one(tp, [run[0].record])
        started = time.perf_counter()
        try:
            outcomes = await self._apply_batch(run)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Nothing of the batch is kept: apply the same records one by one, which isolates
            # (and dead-letters) what cannot be applied and retries what failed transiently.
            CONSUMER_BATCHES.labels(self._service, self.name, "one_by_one").inc()
            log.warning(
                "batch failed, applying its records one by one",
                consumer=self.name,
                topic=tp.topic,
                partition=tp.partition,
                records=len(run),
                error_type=_error_type(exc),
            )
            return await self._handle_one_by_one(tp, [ready.record for ready in run])
        CONSUMER_BATCHES.labels(self._service, self.name, "batch").inc()
        each = (time.perf_counter() - started) / len(run)
        timing = EVENT_HANDLING_SECONDS.labels(self._service, self.name)
        for _ in run:
            timing.observe(each)
        for kind in ("processed", "duplicate", "ignored"):
            if outcomes.get(kind):
                EVENTS_CONSUMED.labels(self._service, self.name, tp.topic, kind).inc(outcomes[kind])
        self._advance(tp, run[-1].record)
        log.info(
            "events processed",
            consumer=self.name,
            topic=tp.topic,
            partition=tp.partition,
            first_offset=run[0].record.offset,
            last_offset=run[-1].record.offset,
            **outcomes,
        )
        return True

    async def _apply_batch(self, run: list[_Ready]) -> dict[str, int]:
        """One transaction: claim every event of ``run``, apply the fresh ones in order (each run
        of one event type together when its handler is a :class:`BatchHandler`)."""
        outcomes = {"processed": 0, "duplicate": 0, "ignored": 0}
        async with self._db.transaction() as session:
            fresh = set(
                await _claim_many(
                    session,
                    self._tables,
                    self.name,
                    [ready for ready in run if ready.handler is not None],
                )
            )
            applied: list[_Ready] = []
            for ready in run:
                if ready.handler is None:
                    outcomes["ignored"] += 1
                elif ready not in fresh:
                    outcomes["duplicate"] += 1
                else:
                    applied.append(ready)
            for same in _runs_of_one_type(applied):
                apply_batch = getattr(same[0].handler, "apply_batch", None)
                if len(same) > 1 and apply_batch is not None:
                    await self._apply_together(apply_batch, same, session)
                    continue
                for ready in same:
                    await self._apply_in_batch(ready, session)
            outcomes["processed"] = len(applied)
        return outcomes

    async def _apply_in_batch(self, ready: _Ready, session: AsyncSession) -> None:
        assert ready.handler is not None
        with structlog.contextvars.bound_contextvars(
            consumer=self.name,
            topic=ready.delivery.topic,
            partition=ready.delivery.partition,
            offset=ready.delivery.offset,
            event_id=ready.event.id,
            event_type=ready.event.type,
        ):
            set_traceparent(ready.event.traceparent)
            with span(
                f"{ready.delivery.topic} process",
                kind=SpanKind.CONSUMER,
                parent=ready.event.traceparent,
                attributes={
                    "coop.consumer": self.name,
                    "cloudevents.event_type": ready.event.type,
                },
            ):
                await ready.handler(
                    EventContext(
                        event=ready.event,
                        data=ready.data,
                        session=session,
                        delivery=ready.delivery,
                    )
                )

    async def _apply_together(
        self,
        apply_batch: Callable[[Sequence[EventContext[Any]], AsyncSession], Awaitable[None]],
        same: list[_Ready],
        session: AsyncSession,
    ) -> None:
        """One call for a run of records of one type: one span, the child of the first record's
        trace (a staged event carries that context), the run's offsets in the log context."""
        first = same[0]
        with structlog.contextvars.bound_contextvars(
            consumer=self.name,
            topic=first.delivery.topic,
            partition=first.delivery.partition,
            first_offset=first.delivery.offset,
            last_offset=same[-1].delivery.offset,
            event_type=first.event.type,
        ):
            set_traceparent(first.event.traceparent)
            with span(
                f"{first.delivery.topic} process",
                kind=SpanKind.CONSUMER,
                parent=first.event.traceparent,
                attributes={
                    "coop.consumer": self.name,
                    "cloudevents.event_type": first.event.type,
                    "messaging.batch.message_count": len(same),
                },
            ):
                await apply_batch(
                    [
                        EventContext(
                            event=ready.event,
                            data=ready.data,
                            session=session,
                            delivery=ready.delivery,
                        )
                        for ready in same
                    ],
                    session,
                )

    def _commit_soon(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the offsets of what was applied without waiting for the broker's answer: the
        loop goes on fetching and applying (a round trip less before the next records). Only
        offsets of committed transactions are ever sent, so a crash before the answer only
        redelivers what the inbox then skips. While one commit is on its way the next offsets
        wait for the following round (a partition's later offset supersedes its earlier one)."""
        if not self._pending_commits:
            return
        if self._commit_in_flight is not None and not self._commit_in_flight.done():
            return
        offsets, self._pending_commits = self._pending_commits, {}
        self._commit_in_flight = asyncio.create_task(
            self._send_commit(consumer, offsets), name=f"commit-{self.name}"
        )

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what was applied and wait for it (the one on its way first, in order)."""
        await self._settle_commit_in_flight()
        if not self._pending_commits:
            return
        offsets, self._pending_commits = self._pending_commits, {}
        await self._send_commit(consumer, offsets)

    async def _send_commit(
        self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]
    ) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The partitions moved to another member: it will redeliver, and the inbox dedupes.
            log.warning("offset commit failed", consumer=self.name, error=str(exc))

    async def _settle_commit_in_flight(self) -> None:
        task, self._commit_in_flight = self._commit_in_flight, None
        if task is not None:
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
            except Exception as exc:  # e.g. the consumer was closed under it
                log.warning("offset commit failed", consumer=self.name, error=str(exc))

    async def _drop_commit_in_flight(self) -> None:
        """Crash-like closing: no more commits (what it would have committed is redelivered)."""
        task, self._commit_in_flight = self._commit_in_flight, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])  # never raises the task's outcome; a cancellation of ours does
        if not task.cancelled() and task.exception() is not None:
            log.debug("offset commit failed", consumer=self.name, error=str(task.exception()))

    def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        total: int | None = None
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = self._positions.get(tp)
            if highwater is None or position is None:
                continue
            lag = max(0, highwater - position)
            total = (total or 0) + lag
            CONSUMER_LAG.labels(self._service, self.name, tp.topic, str(tp.partition)).set(lag)
        self.status.lag = total

    # -- one record ----------------------------------------------------------------------------

    async def _handle_record(self, record: Any) -> bool:
        """Process one record to a final outcome. False only when stopping before that."""
        started = time.perf_counter()
        delivery = Delivery(record.topic, record.partition, record.offset, _record_time(record))
        # event_id/event_type are bound later, once read; listing them here unbinds them after.
        with structlog.contextvars.bound_contextvars(
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_id=None,
            event_type=None,
        ):
            outcome = await self._process(record, delivery)
            if outcome is None:
                return False
            EVENTS_CONSUMED.labels(self._service, self.name, record.topic, outcome.kind).inc()
            EVENT_HANDLING_SECONDS.labels(self._service, self.name).observe(
                time.perf_counter() - started
            )
            return True

    async def _process(self, record: Any, delivery: Delivery) -> _Outcome | None:
        try:
            event = CloudEvent.from_kafka(record.value, record.headers)
        except EnvelopeError as exc:
            return await self._dead_letter(record, DeadLetterReason.UNREADABLE_ENVELOPE, str(exc))
        structlog.contextvars.bind_contextvars(event_id=event.id, event_type=event.type)
        try:
            model = event_model_for(event.type)
        except UnknownEventType as exc:
            return await self._dead_letter(record, DeadLetterReason.UNKNOWN_EVENT_TYPE, str(exc))
        handler = self._registry.get(event.type)
        if handler is None:
            return _Outcome("ignored")  # a known event this consumer has no business with
        try:
            data = model.model_validate(event.data)
        except ValidationError as exc:
            return await self._dead_letter(
                record, DeadLetterReason.INVALID_DATA, _validation_summary(exc)
            )
        set_traceparent(event.traceparent)
        with span(
            f"{delivery.topic} process",
            kind=SpanKind.CONSUMER,
            parent=event.traceparent,
            attributes={"coop.consumer": self.name, "cloudevents.event_type": event.type},
        ):
            attempt = 0
            while True:
                attempt += 1
                try:
                    return await self._apply(handler, event, data, delivery)
                except PermanentError as exc:
                    return await self._dead_letter(
                        record, DeadLetterReason.REJECTED, str(exc), details=exc.details
                    )
                except DomainError as exc:
                    # A use case's refusal: the same as on HTTP, told to the partner in French.
                    return await self._dead_letter(
                        record,
                        DeadLetterReason.REJECTED,
                        f"{exc.code}: {exc.message}",
                        details={"code": exc.code, **exc.extra},
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Never the exception's text: a database error's carries SQL and bound values
                    # (personal data). An error id links the dead letter to this log line.
                    error_id = uuid.uuid4().hex[:12]
                    if _is_data_error(exc, attempt):
                        # The event's values do not fit the store: retrying cannot help, and would
                        # delay every other record (other networks' too) behind this one.
                        log.error(
                            "handler failed on the event's data, giving up",
                            error_id=error_id,
                            error_type=_error_type(exc),
                        )
                        return await self._dead_letter(
                            record,
                            DeadLetterReason.REJECTED,
                            "Données refusées par le stockage de la plateforme (valeur trop longue,"
                            " mal formée ou en conflit) : corrigez le message avant de le renvoyer"
                            f" (réf. {error_id}).",
                            details={"kind": "invalid", "error_id": error_id},
                        )
                    infrastructure = _is_infrastructure_error(exc)
                    if not infrastructure and attempt >= self._settings.consumer_max_attempts:
                        log.error(
                            "handler failed, giving up",
                            attempts=attempt,
                            error_id=error_id,
                            error_type=_error_type(exc),
                            exc_info=not isinstance(exc, StatementError),
                        )
                        return await self._dead_letter(
                            record,
                            DeadLetterReason.RETRIES_EXHAUSTED,
                            f"Erreur interne de la plateforme après {attempt} tentatives : rien à"
                            " corriger dans le message ; il peut être rejoué, ou signalé au support"
                            f" avec la référence {error_id}.",
                            details={"error_id": error_id},
                        )
                    EVENT_RETRIES.labels(self._service, self.name).inc()
                    delay = min(
                        self._settings.consumer_retry_max_seconds,
                        self._settings.consumer_retry_base_seconds * 2 ** min(attempt - 1, 10),
                    ) * random.uniform(0.8, 1.2)
                    log.warning(
                        "handler failed, retrying",
                        attempt=attempt,
                        error_id=error_id,
                        error_type=_error_type(exc),
                        retry_in=round(delay, 2),
                    )
                    try:
                        await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                        return None
                    except TimeoutError:
                        pass

    async def _apply(
        self, handler: Handler, event: CloudEvent, data: EventData, delivery: Delivery
    ) -> _Outcome:
        async with self._db.transaction() as session:
            fresh = await processed_events.claim(
                session,
                self._tables,
                consumer=self.name,
                event_id=event.id,
                event_type=event.type,
                topic=delivery.topic,
                partition=delivery.partition,
                offset=delivery.offset,
            )
            if not fresh:
                log.info("duplicate event skipped")
                return _Outcome("duplicate")
            await handler(EventContext(event=event, data=data, session=session, delivery=delivery))
        log.info("event processed")
        return _Outcome("processed")

    async def _dead_letter(
        self,
        record: Any,
        reason: DeadLetterReason,
        error: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> _Outcome:
        letter = dead_letter_for(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            consumer=self.name,
            reason=reason,
            error=error,
        )
        delay = 0.5
        # The offset is committed only once the dead letter is safely on the broker.
        while True:
            producer = self._dlq_producer
            try:
                if producer is None:
                    raise KafkaError("dead-letter producer not started")
                await self._ensure_dead_letter_topic(record.topic)
                await producer.send_and_wait(
                    letter.topic, value=letter.value, key=letter.key, headers=letter.headers
                )
                break
            except (KafkaError, RuntimeError) as exc:
                if self._stopping.is_set():
                    raise
                log.warning("dead-letter publish failed, retrying", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        log.warning("event dead-lettered", reason=reason.value, error=error, dlq=letter.topic)
        if self._on_dead_letter is not None:
            headers = dict(record.headers or ())
            notice = DeadLetterNotice(
                consumer=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                event_id=_header_text(headers.get("ce_id")),
                event_type=_header_text(headers.get("ce_type")),
                reason=reason.value,
                error=error,
                details=details or {},
            )
            try:
                await self._on_dead_letter(notice, self._db)
            except Exception:
                # The dead letter itself is safe on the broker; the hook's record is a convenience.
                log.exception("dead-letter hook failed")
        return _Outcome("dead_lettered", reason.value)

    async def _ensure_dead_letter_topic(self, topic: str) -> None:
        """A pattern subscription can meet topics nobody provisioned a dead-letter topic for (a
        network onboarded elsewhere): create it before the first dead letter, once."""
        if topic in self._dead_letter_topics_ready:
            return
        await ensure_topics(self._settings, [TopicSpec(topic, "").dead_letter()])
        self._dead_letter_topics_ready.add(topic)


class _RebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: EventConsumer) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        consumer = self._runner._consumer
        if consumer is not None:
            await self._runner._commit(consumer)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._runner.status.assigned = set(assigned)
        log.info("partitions assigned", consumer=self._runner.name, partitions=len(assigned))


async def _claim_many(
    session: AsyncSession, tables: PlatformTables, consumer: str, run: list[_Ready]
) -> list[_Ready]:
    """Claim the events of ``run`` in two statements; return those applied for the first time
    (an event twice in ``run`` counts once). A concurrent claim fails the transaction on the
    primary key; the batch is then applied again one by one, whose claims
    (:func:`processed_events.claim`) wait for the other transaction and skip what it claimed."""
    if not run:
        return []
    processed = tables.processed_events
    ids = list({ready.event.id for ready in run})
    seen = set(
        (
            await session.scalars(
                select(processed.c.event_id).where(
                    processed.c.consumer == consumer, processed.c.event_id.in_(ids)
                )
            )
        ).all()
    )
    fresh: list[_Ready] = []
    for ready in run:
        if ready.event.id in seen:
            continue
        seen.add(ready.event.id)
        fresh.append(ready)
    if fresh:
        now = datetime.now(UTC)
        await session.execute(
            processed.insert(),
            [
                {
                    "consumer": consumer,
                    "event_id": ready.event.id,
                    "event_type": ready.event.type,
                    "topic": ready.delivery.topic,
                    "partition": ready.delivery.partition,
                    "offset": ready.delivery.offset,
                    "processed_at": now,
                }
                for ready in fresh
            ],
        )
    return fresh


def _runs_of_one_type(applied: list[_Ready]) -> list[list[_Ready]]:
    """``applied`` cut into runs of consecutive records of one event type and one handler."""
    runs: list[list[_Ready]] = []
    for ready in applied:
        if runs and (
            runs[-1][0].event.type == ready.event.type and runs[-1][0].handler is ready.handler
        ):
            runs[-1].append(ready)
        else:
            runs.append([ready])
    return runs


def _record_time(record: Any) -> datetime | None:
    timestamp = getattr(record, "timestamp", None)
    if not isinstance(timestamp, int) or timestamp < 0:
        return None
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)


def _header_text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode(errors="replace")


def _validation_summary(exc: ValidationError) -> str:
    """The fields at fault and why, in French for the partner's staff (never the values)."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(item) for item in error["loc"]) or "(racine)"
        parts.append(f"{location} : {_french_issue(error)}")
    return "Données invalides, corrigez puis renvoyez : " + " ; ".join(parts)


def _french_issue(error: Any) -> str:
    """One pydantic error said in French (its type decides; its English text as a last resort,
    without the value it quotes)."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    simple = {
        "missing": "champ obligatoire manquant",
        "extra_forbidden": "champ inconnu",
        "timezone_aware": "date-heure sans fuseau horaire : ajoutez-le (ex."
        " 2026-11-26T10:00:00+01:00 ou …Z)",
        "uuid_parsing": "identifiant invalide (UUID attendu)",
        "uuid_type": "identifiant invalide (UUID attendu)",
        "bool_parsing": "booléen attendu (true ou false)",
        "bool_type": "booléen attendu (true ou false)",
        "int_parsing": "nombre entier attendu",
        "int_type": "nombre entier attendu",
        "float_parsing": "nombre attendu",
        "float_type": "nombre attendu",
        "string_type": "texte attendu",
        "list_type": "liste attendue",
        "dict_type": "objet JSON attendu",
        "model_type": "objet JSON attendu",
        "date_parsing": "date invalide (AAAA-MM-JJ attendu)",
        "date_type": "date invalide (AAAA-MM-JJ attendu)",
        "date_from_datetime_parsing": "date invalide (AAAA-MM-JJ attendu)",
        "datetime_parsing": "date-heure invalide (ISO 8601 avec fuseau attendu)",
        "datetime_type": "date-heure invalide (ISO 8601 avec fuseau attendu)",
        "datetime_from_date_parsing": "date-heure invalide (ISO 8601 avec fuseau attendu)",
    }
    if kind in simple:
        return simple[kind]
    if kind in ("enum", "literal_error"):
        return f"valeur inconnue : attendu {ctx.get('expected', 'une valeur du contrat')}"
    if kind == "string_too_long":
        return f"texte trop long (au plus {ctx.get('max_length')} caractères)"
    if kind == "string_too_short":
        return f"texte trop court (au moins {ctx.get('min_length')} caractère(s))"
    if kind == "string_pattern_mismatch":
        return f"format invalide (motif {ctx.get('pattern')})"
    if kind == "too_short":
        return f"liste trop courte (au moins {ctx.get('min_length')} élément(s))"
    if kind == "too_long":
        return f"liste trop longue (au plus {ctx.get('max_length')} éléments)"
    bounds = {
        "greater_than": "supérieure à",
        "greater_than_equal": "au moins égale à",
        "less_than": "inférieure à",
        "less_than_equal": "au plus égale à",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        return f"valeur hors limites : doit être {bounds[kind]} {limit}"
    message = str(error.get("msg", kind))
    # A validator's own message (the screened texts' are French already).
    return message.removeprefix("Value error, ")

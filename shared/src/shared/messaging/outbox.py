"""Transactional outbox.

A use case adds its events with :func:`add_event` in the same transaction as its business
change; :class:`OutboxRelay` publishes committed rows in insertion order with an idempotent
producer and marks them published. If the broker is down, rows wait; if the process dies between
publishing and marking, the rows are published again (consumers deduplicate by event id).
Nothing is lost.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.contracts.base import EventData
from shared.db.database import Database
from shared.db.direct import DirectSelect
from shared.db.tables import PlatformTables
from shared.envelope import CloudEvent
from shared.observability.context import current_traceparent
from shared.observability.metrics import (
    OUTBOX_OLDEST_AGE,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISHED,
)
from shared.observability.tracing import SpanKind, span

log = structlog.get_logger(__name__)

_PENDING_FLAG = "outbox_pending"
# One advisory-lock id for all relays of a database: only one publishes at a time, keeping order.
_POSTGRES_RELAY_LOCK = 0x0C00B0


@dataclass(frozen=True, slots=True)
class Staged:
    """One event to stage with :func:`add_events` (the arguments of :func:`add_event`)."""

    data: EventData
    subject: str | None = None
    topic: str | None = None
    event_id: str | None = None
    occurred_at: datetime | None = None


async def add_event(
    session: AsyncSession,
    tables: PlatformTables,
    data: EventData,
    *,
    source: str,
    subject: str | None = None,
    topic: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> CloudEvent:
    """Stage an event in the caller's transaction. It is published only if that commits."""
    (event,) = await add_events(
        session,
        tables,
        [Staged(data, subject=subject, topic=topic, event_id=event_id, occurred_at=occurred_at)],
        source=source,
    )
    return event


async def add_events(
    session: AsyncSession,
    tables: PlatformTables,
    staged: list[Staged],
    *,
    source: str,
) -> list[CloudEvent]:
    """Stage several events in the caller's transaction in one ``INSERT`` executed for every row
    (one round trip whatever their number), in the order given (the relay publishes them in that
    order)."""
    if not staged:
        return []
    events, rows = outbox_rows(staged, source=source)
    # One statement, its parameter sets in list order (ids ascend in that order): an executemany
    # on SQLite, a batched one on PostgreSQL. Not ``insert().values(rows)``: a multi-row VALUES
    # has no cache key, so it was compiled again at every call (the POST's costliest statement).
    await session.execute(tables.outbox.insert(), rows)
    mark_pending(session)
    return events


def outbox_rows(
    staged: list[Staged], *, source: str
) -> tuple[list[CloudEvent], list[dict[str, Any]]]:
    """The CloudEvents of ``staged`` and the outbox rows that stage them, in that order, without
    executing anything: what :func:`add_events` inserts. A caller that runs the ``INSERT``
    itself (with other statements, in one hand-off) executes ``tables.outbox.insert()`` with these
    rows in the same transaction and calls :func:`mark_pending`."""
    traceparent = current_traceparent()
    created_at = datetime.now(UTC)
    events: list[CloudEvent] = []
    rows: list[dict[str, Any]] = []
    for item in staged:
        identity: dict[str, Any] = {}
        if item.event_id:
            identity["id"] = item.event_id
        if item.occurred_at:
            identity["time"] = item.occurred_at
        event = CloudEvent(
            type=item.data.event_type,
            source=source,
            subject=item.subject,
            data=item.data.model_dump(mode="json"),
            traceparent=traceparent,
            **identity,
        )
        events.append(event)
        rows.append(
            {
                "event_id": event.id,
                "topic": item.topic or item.data.topic,
                "key": item.data.key,
                "event_type": event.type,
                "source": event.source,
                "subject": event.subject,
                "occurred_at": event.time,
                "data": event.data,
                "traceparent": event.traceparent,
                "created_at": created_at,
                "attempts": 0,
            }
        )
    return events, rows


def mark_pending(session: AsyncSession | Session) -> None:
    """Tell :func:`notify_on_commit` that this transaction staged events (wake the relay once it
    commits)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info[_PENDING_FLAG] = True


class Outbox:
    """A service's outbox: its platform tables and its CloudEvents ``source``, bound once (one
    ``OUTBOX`` per service, in its ``models.py``) so that use cases only say what happened."""

    def __init__(self, tables: PlatformTables, source: str) -> None:
        self.tables = tables
        self.source = source

    async def stage(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        subject: str | None = None,
        topic: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> CloudEvent:
        """Stage ``data`` in the caller's transaction; published only if that commits."""
        return await add_event(
            session,
            self.tables,
            data,
            source=self.source,
            subject=subject,
            topic=topic,
            event_id=event_id,
            occurred_at=occurred_at,
        )

    async def stage_all(self, session: AsyncSession, staged: list[Staged]) -> list[CloudEvent]:
        """Stage several events in one statement (:func:`add_events`)."""
        return await add_events(session, self.tables, staged, source=self.source)

    def rows(self, staged: list[Staged]) -> tuple[list[CloudEvent], list[dict[str, Any]]]:
        """The events and outbox rows of ``staged``, not executed (:func:`outbox_rows`): the
        caller inserts them with ``self.tables.outbox.insert()`` and calls :func:`mark_pending`."""
        return outbox_rows(staged, source=self.source)


def notify_on_commit(session_class: type[Session], wake: Callable[[], None]) -> Callable[[], None]:
    """Wake the relay right after a transaction that staged events commits (no polling delay).

    Returns a function that removes the hook.
    """
    from sqlalchemy import event as sa_event

    def _after_commit(session: Session) -> None:
        if session.info.pop(_PENDING_FLAG, False):
            wake()

    def _after_rollback(session: Session) -> None:
        session.info.pop(_PENDING_FLAG, None)

    def _after_soft_rollback(session: Session, _transaction: object) -> None:
        _after_rollback(session)

    sa_event.listen(session_class, "after_commit", _after_commit)
    sa_event.listen(session_class, "after_soft_rollback", _after_soft_rollback)

    def remove() -> None:
        sa_event.remove(session_class, "after_commit", _after_commit)
        sa_event.remove(session_class, "after_soft_rollback", _after_soft_rollback)

    return remove


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """What waits in the outbox: how many rows, and how long the oldest has waited."""

    pending: int
    oldest_age_seconds: float


class OutboxRelay:
    """Publishes committed outbox rows in order. One task per service process.

    Each round fetches up to ``batch_size`` rows (a read: on SQLite it takes no write lock),
    publishes them all before waiting for the broker's acknowledgements, and marks them published
    in one statement. The backlog (count and age of the oldest row) is measured at most once per
    ``metrics_interval`` seconds for the metrics, whether publishing works or not.
    """

    def __init__(
        self,
        database: Database,
        tables: PlatformTables,
        producer_factory: Callable[[], AIOKafkaProducer],
        *,
        service: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        metrics_interval: float = 1.0,
        busy_retry: float = 0.05,
    ) -> None:
        self._db = database
        self._outbox = tables.outbox
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._service = service
        self._batch_size = batch_size
        self._pending = DirectSelect(
            select(self._outbox)
            .where(self._outbox.c.published_at.is_(None))
            .order_by(self._outbox.c.id)
            .limit(batch_size),
            named=True,
        )
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_error: str | None = None
        self._metrics_interval = metrics_interval
        self._metrics_at = float("-inf")
        #: PostgreSQL: another relay of the store held the lock at the last round. It publishes
        #: what it fetched, not what was committed after its fetch: try again in ``busy_retry``
        #: seconds rather than at the next poll.
        self._lock_busy = False
        self._busy_retry = busy_retry

    def wake(self) -> None:
        """Thread-safe enough for SQLAlchemy's commit hook, which runs on the loop's thread."""
        self._wakeup.set()

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                # Every commit woken for so far is visible to the fetch about to run; a commit
                # after this point sets the wake-up again (its hook runs once it has committed).
                self._wakeup.clear()
                published = await self.publish_pending()
                failures = 0
                self.last_error = None
                await self._refresh_metrics()
                if published >= self._batch_size:
                    continue  # a full batch: more may be waiting
                # Fewer than a batch: nothing else was committed when it was fetched. A commit
                # since then has set the wake-up, so this returns at once; otherwise the poll is
                # the fallback for commits of other processes. No empty fetch after every round
                # (it was one more read transaction per published batch, in the HTTP process).
                await self._sleep(self._busy_retry if self._lock_busy else self._poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker or the database is unavailable: wait, retry
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                OUTBOX_PUBLISH_FAILURES.labels(self._service).inc()
                await self._reset_producer()
                delay = min(self._max_backoff, 0.5 * 2 ** min(failures, 10))
                delay *= random.uniform(0.8, 1.2)
                log.warning(
                    "outbox publish failed", error=self.last_error, retry_in=round(delay, 2)
                )
                await self._refresh_metrics()
                await self._sleep(delay)
        await self._reset_producer()

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        """A failed idempotent producer may hold stale sequence numbers: start afresh."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout=10)
            except Exception as exc:
                log.debug("producer stop failed", error=str(exc))

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        if self._db.is_postgres:
            # PostgreSQL does not block writers on this open transaction, so fetching, publishing
            # and marking happen under one advisory lock: one relay among replicas, order kept.
            async with self._db.transaction() as session:
                locked = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _POSTGRES_RELAY_LOCK}
                )
                self._lock_busy = not locked
                if not locked:
                    return 0
                rows = await self._fetch(session)
                if rows:
                    await self._publish(rows)
                    await self._mark_published(session, rows)
        else:
            # SQLite serialises writers: never hold its lock while waiting on the broker. The
            # fetch is a read (no write lock); marking is one writing statement.
            async with self._db.reading() as session:
                rows = await self._fetch(session)
            if rows:
                await self._publish(rows)
                async with self._db.transaction() as session:
                    await self._mark_published(session, rows)
        if rows:
            OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
            log.debug("outbox published", count=len(rows))
        return len(rows)

    async def _fetch(self, session: AsyncSession) -> list[Any]:
        # Straight through the driver (shared.db.direct): one hand-off, no execution context.
        return list(await self._pending.rows(session, {}))

    async def _publish(self, rows: list[Any]) -> None:
        try:
            producer = await self._ensure_producer()
            deliveries = []
            async with asyncio.timeout(30):  # queueing the batch (waits only when buffers are full)
                for row in rows:
                    # Tracing on: the record carries the publish span's context (the staging
                    # request's span its parent); off, the row's as staged.
                    with span(
                        f"{row.topic} publish",
                        kind=SpanKind.PRODUCER,
                        parent=row.traceparent,
                        attributes={
                            "coop.service": self._service,
                            "cloudevents.event_type": row.event_type,
                        },
                    ) as current:
                        event = _to_event(row, current_traceparent() if current else None)
                        value, headers = event.to_kafka()
                        deliveries.append(
                            await producer.send(
                                row.topic, value=value, key=row.key.encode(), headers=headers
                            )
                        )
            async with asyncio.timeout(30):  # every acknowledgement of the batch
                await asyncio.gather(*deliveries)
        except BaseException as exc:
            await _record_failure(self._db, self._outbox, rows[0].id, exc)
            raise

    async def _mark_published(self, session: AsyncSession, rows: list[Any]) -> None:
        await session.execute(
            update(self._outbox)
            .where(self._outbox.c.id.in_([row.id for row in rows]))
            .values(
                published_at=datetime.now(UTC),
                attempts=self._outbox.c.attempts + 1,
                last_error=None,
            )
        )

    async def pending_count(self) -> int:
        async with self._db.reading() as session:
            count = await session.scalar(
                select(func.count()).where(self._outbox.c.published_at.is_(None))
            )
            return int(count or 0)

    async def backlog(self) -> OutboxBacklog:
        """Rows waiting and the age of the oldest (a read, never behind a writer); sets the
        ``coop_outbox_pending`` and ``coop_outbox_oldest_age_seconds`` gauges."""
        async with self._db.reading() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(self._outbox.c.created_at)).where(
                        self._outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        pending, oldest = int(row[0] or 0), row[1]
        age = 0.0
        if oldest is not None:
            if isinstance(oldest, str):  # SQLite gives an aggregate's value back as text
                oldest = datetime.fromisoformat(oldest)
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        OUTBOX_PENDING.labels(self._service).set(pending)
        OUTBOX_OLDEST_AGE.labels(self._service).set(age)
        self._metrics_at = time.monotonic()
        return OutboxBacklog(pending, age)

    async def _refresh_metrics(self) -> None:
        if time.monotonic() - self._metrics_at < self._metrics_interval:
            return
        try:
            await self.backlog()
        except Exception as exc:  # the store is away: publishing reports it already
            self._metrics_at = time.monotonic()
            log.debug("outbox backlog unavailable", error=str(exc))


async def _record_failure(db: Database, outbox: Any, row_id: int, exc: BaseException) -> None:
    """Leave a visible trace on the head-of-line row (ops see why it is stuck)."""
    if isinstance(exc, asyncio.CancelledError):
        return
    try:
        async with db.transaction() as session:
            await session.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(
                    attempts=outbox.c.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
                )
            )
    except Exception as db_exc:
        log.warning("cannot record outbox failure", error=str(db_exc))


def _to_event(row: Any, traceparent: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=row.event_id,
        type=row.event_type,
        source=row.source,
        subject=row.subject,
        time=row.occurred_at,
        data=row.data,
        traceparent=traceparent or row.traceparent,
    )

"""A service process's moving parts besides HTTP: its store, its outbox relay, its consumers.

The web app starts and stops a :class:`ServiceRuntime` in its lifespan. Kafka parts start in the
background and keep retrying, so a service comes up (and accepts requests into its outbox) even
while the broker is away; readiness reports what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.client import AIOKafkaClient
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.db.tables import PlatformTables
from shared.messaging.consumer import DeadLetterHook, EventConsumer, HandlerRegistry
from shared.messaging.kafka import client_options, make_producer
from shared.messaging.outbox import OutboxRelay, notify_on_commit
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer group of this service: its name, the topics it reads, its handlers."""

    name: str
    topics: Sequence[TopicSpec]
    registry: HandlerRegistry
    #: Instead of fixed topics, every topic matching this regex (provisioned elsewhere, e.g. when
    #: an agency network is onboarded).
    pattern: str | None = None
    #: Called once a record is on the dead-letter topic (audit records, metrics…).
    on_dead_letter: DeadLetterHook | None = None


@dataclass(frozen=True)
class PeriodicJob:
    """Work the service does on a schedule (expiring unanswered referrals, sending reminders…).

    ``run`` gets the runtime and must be idempotent: every replica runs it, and a run may be cut
    short by a shutdown. A failing run is logged and retried at the next tick.
    """

    name: str
    interval_seconds: float
    run: Callable[[ServiceRuntime], Awaitable[None]]


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any]


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tables: PlatformTables,
        produces: Sequence[TopicSpec] = (),
        consumers: Sequence[ConsumerSpec] = (),
        jobs: Sequence[PeriodicJob] = (),
        dynamic_topics: Callable[[ServiceRuntime], Awaitable[list[TopicSpec]]] | None = None,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.database = Database(settings.database_url, echo=settings.database_echo)
        self._produces = list(produces)
        self._consumer_specs = list(consumers)
        self.relay = OutboxRelay(
            self.database,
            tables,
            lambda: make_producer(settings, client_id=f"{settings.service_name}-outbox"),
            service=settings.service_name,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_seconds,
        )
        self.consumers = [
            EventConsumer(
                name=spec.name,
                topics=[topic.name for topic in spec.topics],
                pattern=spec.pattern,
                on_dead_letter=spec.on_dead_letter,
                registry=spec.registry,
                database=self.database,
                tables=tables,
                settings=settings,
                producer_factory=lambda: make_producer(
                    settings, client_id=f"{settings.service_name}-dlq"
                ),
            )
            for spec in consumers
        ]
        self.jobs = list(jobs)
        #: Topics known only at run time (e.g. one pair per onboarded agency network), provisioned
        #: with the static ones before the consumers start.
        self._dynamic_topics = dynamic_topics
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._remove_commit_hook = notify_on_commit(
            self.database.sync_session_class, self.relay.wake
        )
        self.topics_ready = False
        self._probe_client: AIOKafkaClient | None = None

    def session(self) -> AsyncSession:
        return self.database.sessionmaker()

    def topics(self) -> list[TopicSpec]:
        """Every topic this service produces to or consumes, with the dead-letter topics."""
        specs: dict[str, TopicSpec] = {spec.name: spec for spec in self._produces}
        for consumer in self._consumer_specs:
            for topic in consumer.topics:
                specs.setdefault(topic.name, topic)
                dead = topic.dead_letter()
                specs.setdefault(dead.name, dead)
        return list(specs.values())

    async def start(self) -> None:
        if self.settings.kafka_enabled:
            self._tasks.append(asyncio.create_task(self._start_messaging(), name="messaging"))
        if self.settings.jobs_enabled:
            for job in self.jobs:
                self._tasks.append(asyncio.create_task(self._run_job(job), name=f"job-{job.name}"))

    async def _run_job(self, job: PeriodicJob) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=job.interval_seconds)
                return
            except TimeoutError:
                pass
            try:
                await job.run(self)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job failed", job=job.name)

    async def _start_messaging(self) -> None:
        delay = 0.5
        while not self.topics_ready:
            try:
                extra = await self._dynamic_topics(self) if self._dynamic_topics else []
                await ensure_topics(self.settings, [*self.topics(), *extra])
                self.topics_ready = True
            except Exception as exc:
                log.warning("topic provisioning failed, retrying", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for consumer in self.consumers:
            self._tasks.append(
                asyncio.create_task(consumer.run(), name=f"consumer-{consumer.name}")
            )

    async def provision(self, specs: Sequence[TopicSpec]) -> list[str]:
        """Create topics now (e.g. for a network just onboarded); returns the names created."""
        return await ensure_topics(self.settings, specs)

    async def stop(self) -> None:
        """Graceful: consumers finish the record in hand and commit; the relay stops publishing."""
        self._stopping.set()
        for consumer in self.consumers:
            await consumer.stop()
        await self.relay.stop()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=20)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks.clear()
        if self._probe_client is not None:
            with contextlib.suppress(Exception):
                await self._probe_client.close()
        self._remove_commit_hook()
        await self.database.dispose()

    # -- readiness -----------------------------------------------------------------------------

    async def readiness(self) -> dict[str, Check]:
        checks = {"database": await self._check_database()}
        if self.settings.kafka_enabled:
            checks["broker"] = await self._check_broker()
            for consumer in self.consumers:
                status = consumer.status
                ok = status.running and bool(status.assigned)
                detail: dict[str, Any] = {"partitions": len(status.assigned)}
                if not ok:
                    detail["error"] = status.last_error or "no partition assigned yet"
                checks[f"consumer:{consumer.name}"] = Check(ok, detail)
            checks["outbox"] = await self._check_outbox()
        return checks

    async def _check_database(self) -> Check:
        try:
            await asyncio.wait_for(self.database.ping(), timeout=3)
            return Check(True, {})
        except Exception as exc:
            return Check(False, {"error": f"{type(exc).__name__}: {exc}"})

    async def _check_broker(self) -> Check:
        try:
            if self._probe_client is None:
                client = AIOKafkaClient(
                    **client_options(self.settings),
                    client_id=f"{self.settings.service_name}-health",
                    request_timeout_ms=3000,
                )
                await asyncio.wait_for(client.bootstrap(), timeout=3)
                self._probe_client = client
            metadata = await asyncio.wait_for(self._probe_client.fetch_all_metadata(), timeout=3)
            if not metadata.brokers():
                raise ConnectionError("no broker in metadata")
            if not self.topics_ready:
                return Check(False, {"error": "topics not provisioned yet"})
            return Check(True, {"brokers": len(metadata.brokers())})
        except Exception as exc:
            client, self._probe_client = self._probe_client, None
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.close()
            return Check(
                False, {"error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__}
            )

    async def _check_outbox(self) -> Check:
        """Informative: a backlog does not make the service unready (writes still commit)."""
        try:
            pending = await asyncio.wait_for(self.relay.pending_count(), timeout=3)
        except Exception as exc:
            return Check(True, {"error": str(exc)})
        detail: dict[str, Any] = {"pending": pending}
        if self.relay.last_error:
            detail["last_error"] = self.relay.last_error
        return Check(True, detail)

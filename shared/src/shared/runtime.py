"""A service process's moving parts besides HTTP: its store, its outbox relay, its consumers,
its periodic jobs.

The web app starts and stops a :class:`ServiceRuntime` in its lifespan. Kafka parts start in the
background and keep retrying, so a service comes up (and accepts requests into its outbox) even
while the broker is away; readiness reports what is missing.

Several processes of one service (replicas, or the workers of ``serve --workers N``) share the
work: the consumers through their consumer group, the outbox relay under its advisory lock, each
periodic job under its lease (:mod:`shared.jobs`: one process at a time runs it). On SQLite one
process does that background work; extra HTTP-only workers elect it (``--http-only-extra``).
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
from shared.jobs import BackgroundElection, JobLeases, election_requested
from shared.messaging.consumer import DeadLetterHook, EventConsumer, HandlerRegistry
from shared.messaging.kafka import client_options, make_producer
from shared.messaging.outbox import OutboxRelay, notify_on_commit
from shared.messaging.provisioning import ensure_topics
from shared.observability.loop_watch import LoopWatch
from shared.observability.metrics import BACKLOG
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
    #: Apply each fetched batch in one transaction (one-by-one again after any error, so a
    #: poison record is still isolated); see :class:`~shared.messaging.consumer.EventConsumer`.
    batch: bool = True


@dataclass(frozen=True)
class PeriodicJob:
    """Work the service does on a schedule (expiring unanswered referrals, sending reminders…).

    Every replica ticks; an ``exclusive`` job (the default) runs under its lease: the replica
    holding it runs every tick, the others skip theirs, so one replica at a time runs it, once
    per interval across the replicas (:mod:`shared.jobs`).
    ``run`` gets the runtime and must still be idempotent: a run may be cut short by a shutdown
    or a lost connection, and the next one does what is left. A failing run is logged and retried
    at the next tick. ``exclusive=False`` is for jobs whose units of work are already claimed
    one replica each (e.g. deliveries claimed with ``SKIP LOCKED``), so that replicas share them.
    """

    name: str
    interval_seconds: float
    run: Callable[[ServiceRuntime], Awaitable[None]]
    exclusive: bool = True


@dataclass(frozen=True)
class BacklogProbe:
    """Work a service lets wait (e.g. mail deliveries not yet sent), shown in ``/health/ready``.

    ``measure`` gets the runtime and returns how much waits (use ``runtime.database.reading()``:
    a read never waits for a writer). Beyond ``degraded_above`` the check says ``"degraded":
    true`` — still ready (200): a slow but working instance must not be dropped by the load
    balancer. The value is also the ``coop_backlog{name=…}`` gauge, refreshed every
    ``refresh_seconds`` in the background and at each readiness probe.
    """

    name: str
    measure: Callable[[ServiceRuntime], Awaitable[float]]
    degraded_above: float
    refresh_seconds: float = 15.0


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any]
    #: Working, but late beyond a setting (e.g. the outbox's oldest row): still ready.
    degraded: bool = False


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
        backlogs: Sequence[BacklogProbe] = (),
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.database = Database(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            background_pool_size=settings.database_background_pool_size,
        )
        self._produces = list(produces)
        self._consumer_specs = list(consumers)
        self.backlogs = list(backlogs)
        # The relay and the consumers work on the background handle: on PostgreSQL a pool of
        # their own, so that HTTP never queues behind them for a connection.
        self.relay = OutboxRelay(
            self.database.background,
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
                database=self.database.background,
                tables=tables,
                settings=settings,
                producer_factory=lambda: make_producer(
                    settings, client_id=f"{settings.service_name}-dlq"
                ),
                batch=spec.batch,
            )
            for spec in consumers
        ]
        self.jobs = list(jobs)
        self.leases = JobLeases(
            settings.database_url,
            namespace=settings.service_name,
            connections=sum(job.exclusive for job in self.jobs),
        )
        #: SQLite with HTTP-only extra workers: the one worker running the background work.
        self._election = BackgroundElection(settings.database_url) if election_requested() else None
        #: Whether this process runs the relay, the consumers and the jobs (an HTTP-only worker
        #: of a SQLite store does not, until it is elected).
        self.runs_background = self._election is None
        #: Topics known only at run time (e.g. one pair per onboarded agency network), provisioned
        #: with the static ones before the consumers start.
        self._dynamic_topics = dynamic_topics
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: The event loop's lag and stalls (shared.observability.loop_watch).
        self.loop_watch = LoopWatch(
            settings.service_name, stall_seconds=settings.loop_stall_log_seconds
        )
        self._remove_commit_hook = notify_on_commit(
            self.database.sync_session_class, self.relay.wake
        )
        self.topics_ready = False
        self._probe_client: AIOKafkaClient | None = None

    def session(self) -> AsyncSession:
        """A session for reads (``async with runtime.session() as session``): it never waits for
        a writer (on SQLite its transaction begins deferred) and is never committed. Writes go
        through ``runtime.database.transaction()``."""
        return self.database.read_session()

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
        self._tasks.append(
            asyncio.create_task(self.loop_watch.run(self._stopping), name="loop-watch")
        )
        if self._election is None:
            self._start_background()
        else:
            self._tasks.append(asyncio.create_task(self._elect(), name="background-election"))
        for probe in self.backlogs:
            self._tasks.append(
                asyncio.create_task(self._watch_backlog(probe), name=f"backlog-{probe.name}")
            )

    def _start_background(self) -> None:
        self.runs_background = True
        if self.settings.kafka_enabled:
            self._tasks.append(asyncio.create_task(self._start_messaging(), name="messaging"))
        if self.settings.jobs_enabled:
            for job in self.jobs:
                self._tasks.append(asyncio.create_task(self._run_job(job), name=f"job-{job.name}"))

    async def _elect(self, every: float = 2.0) -> None:
        """HTTP-only until this worker holds the background lock (at start, or when the worker
        holding it has died)."""
        assert self._election is not None
        while not self._election.try_acquire():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=every)
                return
            except TimeoutError:
                pass
        if not self._stopping.is_set():  # elected as the process stops: nothing to start
            self._start_background()

    async def _run_job(self, job: PeriodicJob) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=job.interval_seconds)
                return
            except TimeoutError:
                pass
            try:
                await self.run_job_once(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job failed", job=job.name)

    async def run_job_once(self, job: PeriodicJob) -> bool:
        """One tick of ``job``: run it if this process holds its lease (kept from one tick to
        the next); False if another process holds it."""
        if job.exclusive and not await self.leases.keep(job.name):
            log.debug("periodic job held by another process, tick skipped", job=job.name)
            return False
        await job.run(self)
        return True

    async def _watch_backlog(self, probe: BacklogProbe) -> None:
        while not self._stopping.is_set():
            await self._check_backlog(probe)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=probe.refresh_seconds)
            except TimeoutError:
                pass

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
        await self.leases.dispose()
        if self._election is not None:
            self._election.release()
        await self.database.dispose()

    # -- readiness -----------------------------------------------------------------------------

    async def readiness(self) -> dict[str, Check]:
        checks = {"database": await self._check_database()}
        if not self.runs_background:
            # An HTTP-only worker of a SQLite store: another worker relays and consumes.
            checks["background"] = Check(True, {"worker": "http-only"})
        elif self.settings.kafka_enabled:
            checks["broker"] = await self._check_broker()
            lag_limit = self.settings.readiness_consumer_lag_degraded
            for consumer in self.consumers:
                status = consumer.status
                ok = status.running and bool(status.assigned)
                detail: dict[str, Any] = {"partitions": len(status.assigned)}
                degraded = False
                if status.lag is not None:
                    degraded = status.lag > lag_limit
                    detail.update(lag=status.lag, degraded=degraded)
                    if degraded:
                        detail["degraded_above"] = lag_limit
                if not ok:
                    detail["error"] = status.last_error or "no partition assigned yet"
                checks[f"consumer:{consumer.name}"] = Check(ok, detail, degraded)
            checks["outbox"] = await self._check_outbox()
        for probe in self.backlogs:
            checks[probe.name] = await self._check_backlog(probe)
        return checks

    async def readiness_report(self) -> tuple[int, dict[str, Any]]:
        """``/health/ready``'s status code and body: 503 "not_ready" when a check fails; 200
        "degraded" when all pass but something is late beyond its setting; else 200 "ready"."""
        checks = await self.readiness()
        ok = all(check.ok for check in checks.values())
        degraded = [name for name, check in checks.items() if check.degraded]
        status = "not_ready" if not ok else "degraded" if degraded else "ready"
        body: dict[str, Any] = {
            "status": status,
            "checks": {name: {"ok": check.ok, **check.detail} for name, check in checks.items()},
        }
        if degraded:
            body["degraded"] = degraded
        return (200 if ok else 503), body

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
        """Informative: a backlog does not make the service unready (writes still commit), but
        an oldest row older than the setting makes it "degraded"."""
        try:
            backlog = await asyncio.wait_for(self.relay.backlog(), timeout=3)
        except Exception as exc:
            return Check(True, {"error": str(exc)})
        limit = self.settings.readiness_outbox_age_degraded_seconds
        degraded = backlog.oldest_age_seconds > limit
        detail: dict[str, Any] = {
            "pending": backlog.pending,
            "oldest_age_seconds": round(backlog.oldest_age_seconds, 3),
            "degraded": degraded,
        }
        if degraded:
            detail["degraded_above"] = limit
        if self.relay.last_error:
            detail["last_error"] = self.relay.last_error
        return Check(True, detail, degraded)

    async def _check_backlog(self, probe: BacklogProbe) -> Check:
        try:
            value = float(await asyncio.wait_for(probe.measure(self), timeout=3))
        except Exception as exc:
            return Check(True, {"error": f"{type(exc).__name__}: {exc}"})
        BACKLOG.labels(self.settings.service_name, probe.name).set(value)
        degraded = value > probe.degraded_above
        detail: dict[str, Any] = {"pending": value if not value.is_integer() else int(value)}
        detail["degraded"] = degraded
        if degraded:
            detail["degraded_above"] = probe.degraded_above
        return Check(True, detail, degraded)

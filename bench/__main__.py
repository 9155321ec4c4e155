"""``make bench``: the project beside bare baselines, then the messaging layer's own figures.

1. Side by side, in one run, on the same store kind (``bench.side_by_side``): ``POST
   /v1/referrals`` on the real referral service against a bare FastAPI + SQLAlchemy INSERT; the
   real notifications and dispositifs services draining ``referral.sent`` against a bare aiokafka
   consumer; end to end at fixed rates (POST → the agency's notification stored, three services
   and the broker) against a bare pipeline (``bench.pipeline``); CPU per operation from
   ``/proc``, throughput, ratios, RSS per service.
2. The queries (``bench.queries``): a 10,000-referral store seeded and folded, every list and
   indicator query measured; then its rows copied up to 1,000,000 and the queries that read rows
   (lists, timeline, an indicator from the rows) measured again, with the ratio.
3. The outbox relay's and the consumer loop's throughput, and commit → consumed latency.
4. The agency directory: a 10,000-agency import, its idempotent re-sync and the suggestion's
   latency over it (``bench.directory``, also runnable alone).

Runs against a throwaway local Kafka broker and throwaway stores: SQLite, or PostgreSQL with
``STORE=postgres`` (``COOP_TEST_POSTGRES_URL`` if set, else a throwaway local cluster, see
``bench.pg``). Stops by itself within ``--budget`` seconds (default 570); what does not fit is
skipped, said so. Nothing here asserts a threshold: the numbers are for people to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

import notifications
import referral
from bench import queries, side_by_side
from bench.directory import bench_directory_ratio
from bench.pg import postgres_store
from bench.procstat import load_average
from localkafka import LocalKafka
from notifications.consumers import referral_events
from notifications.models import PLATFORM as NOTIFICATIONS_PLATFORM
from referral.models import PLATFORM as REFERRAL_PLATFORM
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.messaging.kafka import make_producer
from shared.messaging.outbox import OutboxRelay, add_event
from shared.messaging.provisioning import ensure_topics
from shared.observability.logging import configure_logging
from shared.settings import ServiceSettings
from shared.testing import migrated_database, store_kind
from shared.testing_kafka import running_consumer


async def bench_outbox(settings: ServiceSettings, work: Path, count: int) -> None:
    url = await migrated_database(
        "bench-referral", Path(referral.__file__).parent / "migrations", work
    )
    database = Database(url)
    topic = TopicSpec(f"bench.referral.{uuid.uuid4().hex[:6]}", "bench")
    await ensure_topics(settings, [topic])
    started = time.perf_counter()
    for _ in range(count // 10):
        async with database.transaction() as session:
            for _ in range(10):
                await add_event(
                    session,
                    REFERRAL_PLATFORM,
                    side_by_side.sent_data(),
                    source="/bench",
                    topic=topic.name,
                )
    staged = time.perf_counter() - started
    relay = OutboxRelay(
        database,
        REFERRAL_PLATFORM,
        lambda: make_producer(settings, client_id="bench"),
        service="bench",
    )
    started = time.perf_counter()
    published = 0
    while published < count:
        published += await relay.publish_pending()
    elapsed = time.perf_counter() - started
    await relay.stop()
    await relay.run()
    await database.dispose()
    print(f"outbox  staging  : {count} events in {staged:.2f}s = {count / staged:,.0f} events/s")
    print(f"outbox  relay    : {count} events in {elapsed:.2f}s = {count / elapsed:,.0f} events/s")


async def bench_consumer(settings: ServiceSettings, work: Path, count: int) -> None:
    url = await migrated_database(
        "bench-notifications", Path(notifications.__file__).parent / "migrations", work
    )
    database = Database(url)
    topic = f"bench.consume.{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, [TopicSpec(topic, "bench")])
    producer = make_producer(settings, client_id="bench-producer")
    await producer.start()
    from shared.envelope import CloudEvent

    for _ in range(count):
        data = side_by_side.sent_data()
        value, headers = CloudEvent(
            type=data.event_type, source="/bench", data=data.model_dump(mode="json")
        ).to_kafka()
        await producer.send(topic, value=value, key=data.key.encode(), headers=headers)
    await producer.flush()
    await producer.stop()

    async def processed() -> int:
        async with database.sessionmaker() as session:
            inbox = NOTIFICATIONS_PLATFORM.processed_events
            return int(await session.scalar(select(func.count()).select_from(inbox)) or 0)

    started = time.perf_counter()
    async with running_consumer(
        settings=settings,
        database=database,
        tables=NOTIFICATIONS_PLATFORM,
        registry=referral_events,
        topic=topic,
        group=f"bench-{uuid.uuid4().hex[:6]}",
    ):
        while await processed() < count:  # noqa: ASYNC110 - polling the store
            await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    await database.dispose()
    print(
        f"consumer (inbox + handler + commit): {count} events in {elapsed:.2f}s = "
        f"{count / elapsed:,.0f} events/s"
    )


async def bench_latency(settings: ServiceSettings, work: Path, samples: int) -> None:
    """Commit of a business transaction → record applied by a consumer, one at a time."""
    referral_db = Database(
        await migrated_database("lat-referral", Path(referral.__file__).parent / "migrations", work)
    )
    notif_db = Database(
        await migrated_database(
            "lat-notifications", Path(notifications.__file__).parent / "migrations", work
        )
    )
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, [TopicSpec(topic, "bench")])
    relay = OutboxRelay(
        referral_db,
        REFERRAL_PLATFORM,
        lambda: make_producer(settings, client_id="bench-lat"),
        service="bench",
        poll_interval=1.0,
    )
    from shared.messaging.outbox import notify_on_commit

    remove = notify_on_commit(referral_db.sync_session_class, relay.wake)
    relay_task = asyncio.create_task(relay.run())
    latencies = []
    async with running_consumer(
        settings=settings,
        database=notif_db,
        tables=NOTIFICATIONS_PLATFORM,
        registry=referral_events,
        topic=topic,
        group=f"bench-{uuid.uuid4().hex[:6]}",
    ) as consumer:
        while not consumer.status.assigned:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.1)
        for i in range(samples):
            started = time.perf_counter()
            async with referral_db.transaction() as session:
                await add_event(
                    session, REFERRAL_PLATFORM, side_by_side.sent_data(), source="/b", topic=topic
                )
            while True:
                async with notif_db.sessionmaker() as session:
                    inbox = NOTIFICATIONS_PLATFORM.processed_events
                    done = await session.scalar(select(func.count()).select_from(inbox))
                if done == i + 1:
                    break
                await asyncio.sleep(0.005)
            latencies.append((time.perf_counter() - started) * 1000)
    await relay.stop()
    await relay_task
    remove()
    await referral_db.dispose()
    await notif_db.dispose()
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"commit → consumed latency over {samples} events: median "
        f"{statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    configure_logging("bench", level="WARNING")
    deadline = time.monotonic() + args.budget
    store = os.environ.get("STORE", "sqlite")
    if store not in ("sqlite", "postgres"):
        raise SystemExit("STORE is sqlite or postgres")
    with tempfile.TemporaryDirectory(prefix="coop-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        if store == "postgres":
            stack.enter_context(postgres_store(work))
        broker = LocalKafka(work / "kafka")
        await asyncio.to_thread(broker.ensure_jars)
        await asyncio.to_thread(broker.start)
        try:
            settings = ServiceSettings(
                service_name="bench",
                environment="development",
                database_url="sqlite+aiosqlite://",
                kafka_bootstrap_servers=broker.bootstrap_servers,
            )
            print(f"store: {store_kind()}; broker: Kafka (KRaft, single node) on loopback")
            print(f"load average at the start (1/5/15 min): {load_average()}", flush=True)
            if not args.skip_side_by_side:
                table = side_by_side.Table()
                try:
                    await asyncio.wait_for(
                        side_by_side.run(
                            broker.bootstrap_servers,
                            work / "side",
                            table,
                            requests=args.requests,
                            concurrency=args.concurrency,
                            events=args.drain_events,
                            budget=max(30.0, deadline - time.monotonic() - 300),
                            rates=tuple(float(r) for r in args.rates.split(",") if r.strip()),
                            rate_seconds=args.rate_seconds,
                            grace=args.grace,
                        ),
                        timeout=max(30.0, deadline - time.monotonic() - 240),
                    )
                except TimeoutError:
                    print("side by side: out of time budget, stopped", flush=True)
                except Exception as exc:  # report what was measured, then the other figures
                    print(f"side by side: stopped by {type(exc).__name__}: {exc}", flush=True)
                print(table.render(), flush=True)
            remaining = deadline - time.monotonic()
            if args.query_sizes and remaining > 60:
                # Its own thread: the query bench runs its own event loops.
                try:
                    await asyncio.wait_for(
                        asyncio.to_thread(
                            queries.run,
                            [int(s) for s in args.query_sizes.split(",") if s],
                            args.query_samples,
                            remaining - 90,
                            store,
                            tuple(int(s) for s in args.query_amplify.split(",") if s),
                        ),
                        timeout=remaining - 60,
                    )
                except TimeoutError:
                    print("queries: out of time budget, stopped", flush=True)
            elif args.query_sizes:
                print("queries: skipped (time budget)")
            for name, bench in (
                ("outbox", lambda: bench_outbox(settings, work, args.events)),
                ("consumer", lambda: bench_consumer(settings, work, args.events)),
                ("latency", lambda: bench_latency(settings, work, args.samples)),
                (
                    "directory",
                    lambda: bench_directory_ratio(work, args.agencies, args.suggestions),
                ),
            ):
                remaining = deadline - time.monotonic()
                if remaining < 20:
                    print(f"{name}: skipped (time budget)")
                    continue
                try:
                    await asyncio.wait_for(bench(), timeout=remaining)
                except TimeoutError:
                    print(f"{name}: out of time budget, stopped")
        finally:
            await asyncio.to_thread(broker.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="outbox/consumer figures")
    parser.add_argument("--samples", type=int, default=100, help="latency samples")
    parser.add_argument("--requests", type=int, default=400, help="HTTP creates per side")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--drain-events", type=int, default=5000)
    parser.add_argument(
        "--rates",
        default="50,150",
        help="end-to-end rates, referrals/s, comma-separated ('' skips)",
    )
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="load at each rate")
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds to wait for the backlog after the load"
    )
    parser.add_argument("--budget", type=float, default=570.0, help="seconds, all included")
    parser.add_argument("--skip-side-by-side", action="store_true")
    parser.add_argument(
        "--query-sizes", default="10000", help="stores seeded and folded ('' skips the queries)"
    )
    parser.add_argument(
        "--query-amplify", default="1000000", help="the last store's rows copied up to these sizes"
    )
    parser.add_argument("--query-samples", type=int, default=30)
    parser.add_argument("--agencies", type=int, default=10_000, help="directory import size")
    parser.add_argument("--suggestions", type=int, default=200, help="suggestion requests")
    asyncio.run(main(parser.parse_args()))

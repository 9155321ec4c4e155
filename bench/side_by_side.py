"""The project beside bare baselines, in one run, on the same store kind (issue 14, item 8).

- HTTP create: ``POST /v1/referrals`` on the real referral service (``python -m referral serve``,
  seeded, with its relay publishing to Kafka) against a bare FastAPI endpoint doing one
  SQLAlchemy-async INSERT (``bench.bare_http``). CPU per request is the server process's own (user +
  system, every thread, from ``/proc/<pid>/stat``), measured from before the load until its outbox
  is drained, so the relay's work is counted. The referral service is measured alone, as the
  bare endpoint is: dispositifs and notifications are paused (SIGSTOP) meanwhile — in a
  deployment they have cores of their own, here they would take the POSTs' (``_paused``). A
  second run of the same size with them consuming beside it has a row of its own; the drains
  start once both have handled every ``referral.sent`` published so far (``_caught_up``).
- Consumer drain: the real notifications and dispositifs services (both consume the topic, as in
  production) draining N ``referral.sent`` events put on ``referral.events`` at once, each measured
  until its own store has them all, against a bare aiokafka consumer doing one INSERT per record
  and one commit per batch (``bench.bare_consumer``). CPU per event from ``/proc`` as above.
- End to end at fixed rates: ``bench.pipeline``.
- RSS of every process after the load.

The project's requests come from :data:`CALLERS` counsellors of one structure, in turn (one token
each): the referral service limits each caller's writes (``shared.http.rate_limit``, 20 a second
after a burst of 120 by default), and one caller sending 50 or 150 referrals a second is a
runaway script that the limit is there to stop — with a single token the end-to-end run at
50/s got 144 of its 500 POSTs refused with 429. The service's own limit is left as deployed;
the load is spread the way a real one is, over many counsellors.

Every service process runs as it would in production (uvicorn, one event loop, JSON logs at INFO
to a file); the notifications delivery worker is off (no SMTP here), so the drain measures the
consumer. The machine's load average is printed with the table: wall-clock figures (req/s, events/s)
move with it, CPU per operation much less.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import column, func, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench import pipeline
from bench.procstat import cpu_seconds, load_average, rss_mb
from devstack.services import ServiceProcess, run_cli, service_env
from localkafka import free_port
from shared.auth.tokens import Role, mint_token
from shared.contracts.referral import ReferralSent
from shared.contracts.topics import REFERRAL_EVENTS, TopicSpec
from shared.envelope import CloudEvent
from shared.messaging.kafka import PRODUCER_OPTIONS
from shared.messaging.provisioning import ensure_topics
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings
from shared.testing import create_database, migrated_database

SERVICE_NAMES = ("referral", "dispositifs", "notifications")

#: Counsellors the project's load comes from, in turn: at 20 writes a second each (the default
#: per-caller limit), 16 keep 320 a second, beyond every rate the bench drives.
CALLERS = 16

#: The headers of one request, or several callers' in turn (request *i* gets ``[i % n]``).
Headers = dict[str, str] | list[dict[str, str]]


def caller_headers(count: int = CALLERS) -> list[dict[str, str]]:
    """One counsellor's ``Authorization`` header per caller, all of the bench's structure."""
    return [
        {
            "Authorization": "Bearer "
            + mint_token(
                key=DEVELOPMENT_JWT_SECRET,
                subject=f"bench-counsellor-{n}",
                role=Role.COUNSELLOR,
                issuer="coop-platform-dev",
                audience="coop-platform",
                ft_structure="75101",
            )
        }
        for n in range(count)
    ]


def headers_of(headers: Headers, i: int) -> dict[str, str]:
    """Request ``i``'s headers (a new Idempotency-Key each), its caller's in turn."""
    own = headers[i % len(headers)] if isinstance(headers, list) else headers
    return {**own, "Idempotency-Key": str(uuid.uuid4())}


def migrations_of(name: str) -> Path:
    module = __import__(name)
    return Path(module.__file__).parent / "migrations"


@dataclass
class Measure:
    """One side of a comparison: operations done, CPU seconds of the process, wall seconds."""

    operations: int
    cpu: float
    wall: float
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def cpu_ms_per_op(self) -> float:
        return self.cpu * 1000 / self.operations

    @property
    def per_second(self) -> float:
        return self.operations / self.wall

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class Table:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The end-to-end runs behind the rows, (project, bare) per rate.
    rate_runs: dict[float, tuple[pipeline.RateRun, pipeline.RateRun]] = field(default_factory=dict)

    def add(self, path: str, project: str, baseline: str, ratio: str) -> None:
        self.rows.append((path, project, baseline, ratio))
        print(f"  {path}: {project} | {baseline} | {ratio}", flush=True)

    def render(self) -> str:
        header = ("path", "project", "bare baseline", "ratio")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(4)]
        lines = [
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
            for row in [header, *self.rows]
        ]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join([*lines, *self.notes])


def _ratio(project: float, baseline: float) -> str:
    return f"{project / baseline:.2f}" if baseline else "n/a"


@contextlib.contextmanager
def _process(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    log = log_path.open("ab")
    proc = subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
        [sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    log.close()
    try:
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def _paused(*paused: ServiceProcess) -> Iterator[None]:
    """Stop the services' processes (SIGSTOP to each one's process group) for the block, then let
    them go on. Kept short: beyond the consumers' session timeout (10 s) their group rebalances
    when they resume, which :func:`_caught_up` waits out."""
    for service in paused:
        os.killpg(_pid(service), signal.SIGSTOP)
    try:
        yield
    finally:
        for service in paused:
            os.killpg(_pid(service), signal.SIGCONT)


def _pid(service: ServiceProcess) -> int:
    proc = service._proc  # the bench reads the process it started (devstack keeps it private)
    assert proc is not None
    return proc.pid


def _referral_body(i: int, run: str) -> dict[str, Any]:
    return {
        "job_seeker": {
            # 11 digits, unique per run and request: one open referral per job seeker and agency.
            "ft_identifier": f"{(int(run, 16) % 900_000 + 100_000) * 100_000 + i:011d}",
            "first_name": "Camille",
            "last_name": "Martin",
        },
        "agency_id": "agc-interim-nord-lille",
        "rome_code": "H2913",
        "message": "Candidate motivée, disponible immédiatement.",
    }


async def _load(
    client: httpx.AsyncClient,
    url: str,
    bodies: list[dict[str, Any]],
    headers: Headers,
    concurrency: int,
) -> tuple[list[float], int]:
    """POST every body, ``concurrency`` at a time; latencies (ms) and the count of non-201s."""
    queue = list(reversed(list(enumerate(bodies))))
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            i, body = queue.pop()
            started = time.perf_counter()
            try:
                response = await client.post(url, json=body, headers=headers_of(headers, i))
            except httpx.HTTPError as exc:  # a reset connection under load: counted, not fatal
                failures += 1
                if failures <= 3:
                    print(f"  ! {url}: {type(exc).__name__} {exc}", flush=True)
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 201:
                failures += 1
                if failures <= 3:
                    print(f"  ! {url}: {response.status_code} {response.text[:300]}", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


async def _measure_http(
    client: httpx.AsyncClient,
    pid: int,
    url: str,
    bodies: list[dict[str, Any]],
    headers: Headers,
    concurrency: int,
    settle: Any = None,
) -> Measure:
    warmup, measured = bodies[:20], bodies[20:]
    await _load(client, url, warmup, headers, concurrency)
    if settle is not None:
        await settle()
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    latencies, failures = await _load(client, url, measured, headers, concurrency)
    wall = time.perf_counter() - started
    if settle is not None:
        await settle()  # the relay's publishing of these rows is part of the cost
    cpu = cpu_seconds(pid) - cpu_before
    if failures:
        print(f"  ! {failures} of {len(measured)} requests to {url} failed", flush=True)
    return Measure(max(1, len(measured) - failures), cpu, wall, latencies)


async def _ready_body(client: httpx.AsyncClient, service: ServiceProcess) -> dict[str, Any]:
    response = await client.get(f"{service.url}/health/ready")
    return response.json()  # type: ignore[no-any-return]


async def _settled(client: httpx.AsyncClient, service: ServiceProcess, timeout: float) -> None:
    """Until the service's outbox is empty and its consumers have no lag (as readiness says)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checks = (await _ready_body(client, service)).get("checks", {})
        outbox = checks.get("outbox", {}).get("pending", 0)
        lags = [c.get("lag") or 0 for n, c in checks.items() if n.startswith("consumer:")]
        if outbox == 0 and not any(lags):
            return
        await asyncio.sleep(0.2)
    print(f"  ! {service.name} not settled after {timeout:.0f}s", flush=True)


async def _caught_up(
    referral_url: str, consumers: dict[str, AsyncEngine], sent_count: Any, timeout: float = 180
) -> None:
    """Until every consumer has handled each ``referral.sent`` the referral service published
    (its outbox keeps the rows): the HTTP rows' referrals, consumed late where the consumers were
    paused, must not count in the drains that follow."""
    outbox = table("outbox", column("event_type"), column("published_at"))
    published = (
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.event_type == ReferralSent.event_type, outbox.c.published_at.isnot(None))
    )
    referral_engine = create_async_engine(referral_url)
    try:
        expected = await _count(referral_engine, published)
    finally:
        await referral_engine.dispose()
    deadline = time.monotonic() + timeout
    behind: dict[str, int] = {}
    while time.monotonic() < deadline:
        behind = {
            name: expected - handled
            for name, engine in consumers.items()
            if (handled := await _count(engine, sent_count)) < expected
        }
        if not behind:
            return
        await asyncio.sleep(0.2)
    print(f"  ! still behind the HTTP rows' referrals after {timeout:.0f}s: {behind}", flush=True)


async def _count(engine: AsyncEngine, statement: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(statement)).scalar() or 0)


def sent_data() -> ReferralSent:
    """One ``referral.sent`` for a new referral (new ids each time)."""
    return ReferralSent(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id="agc-interim-nord-lille",
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id="bench",
        structure_code="75101",
        sent_at=datetime.now(UTC),
    )


def sent_record() -> dict[str, Any]:
    """One ``referral.sent`` CloudEvent for a new referral, as the producer's ``send`` takes it."""
    data = sent_data()
    event = CloudEvent(type=data.event_type, source="/bench", data=data.model_dump(mode="json"))
    value, headers = event.to_kafka()
    return {"value": value, "key": data.key.encode(), "headers": headers}


async def _publish_sent(bootstrap: str, topic: str, count: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    try:
        sends = [await producer.send(topic, **sent_record()) for _ in range(count)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


#: How often a drain's store is counted: the wall time is up to one interval more than the truth
#: (on a drain of ~0.5 s, 100 ms was a fifth of the bare consumer's figure).
DRAIN_POLL_SECONDS = 0.02


async def _measure_drain(
    pid: int, bootstrap: str, topic: str, count: int, done: Any, timeout: float
) -> Measure | None:
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    await _publish_sent(bootstrap, topic, count)
    deadline = time.monotonic() + timeout
    while not await done():
        if time.monotonic() > deadline:
            print(f"  ! drain of {count} events on {topic} not finished in {timeout:.0f}s")
            return None
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    return Measure(count, cpu_seconds(pid) - cpu_before, time.perf_counter() - started)


async def _measure_drains(
    consumers: dict[str, tuple[int, Any]], bootstrap: str, topic: str, count: int, timeout: float
) -> dict[str, Measure]:
    """Publish ``count`` events once; each consumer (``pid``, ``done``) is measured until its own
    ``done()``: CPU of its process, wall time from the first send."""
    cpu_before = {name: cpu_seconds(pid) for name, (pid, _) in consumers.items()}
    started = time.perf_counter()
    await _publish_sent(bootstrap, topic, count)
    deadline = time.monotonic() + timeout
    measured: dict[str, Measure] = {}
    while len(measured) < len(consumers):
        for name, (pid, done) in consumers.items():
            if name not in measured and await done():
                measured[name] = Measure(
                    count, cpu_seconds(pid) - cpu_before[name], time.perf_counter() - started
                )
        if time.monotonic() > deadline:
            late = sorted(set(consumers) - set(measured))
            print(f"  ! drain of {count} events on {topic} not finished by {late}", flush=True)
            break
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    return measured


async def run(
    bootstrap: str,
    work: Path,
    table_out: Table,
    *,
    requests: int,
    concurrency: int,
    events: int,
    budget: float,
    rates: tuple[float, ...] = (50.0, 150.0),
    rate_seconds: float = 10.0,
    grace: float = 10.0,
) -> Table:
    """Start the three services and the baselines, measure, stop them all; fill ``table_out``
    (rows are added as they are measured: if the run is cut short, what was measured stays)."""
    deadline = time.monotonic() + budget
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    settings = ServiceSettings(
        service_name="bench",
        environment="development",
        database_url="sqlite://",
        kafka_bootstrap_servers=bootstrap,
    )
    await ensure_topics(settings, [REFERRAL_EVENTS])
    services: dict[str, ServiceProcess] = {}
    urls: dict[str, str] = {}
    for name in SERVICE_NAMES:
        urls[name] = await migrated_database(f"bench-{name}", migrations_of(name), work)
        extra = {"LOG_JSON": "true", "LOG_LEVEL": "INFO"}
        if name == "notifications":
            extra["JOBS_ENABLED"] = "false"  # no SMTP here: measure the consumer
        env = service_env(name, database_url=urls[name], bootstrap_servers=bootstrap, extra=extra)
        if name == "referral":
            await asyncio.to_thread(run_cli, name, "seed", env)
        services[name] = ServiceProcess(name, free_port(), env, logs / f"{name}.log")
    bare_http_url = await create_database("bench-bare-http", work)
    bare_consumer_url = await create_database("bench-bare-consumer", work)
    headers = caller_headers()
    run_id = uuid.uuid4().hex[:6]
    bare_port = free_port()
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            await asyncio.to_thread(service.wait_ready, 120)
        with _process(
            ["-m", "bench.bare_http", "--database-url", bare_http_url, "--port", str(bare_port)],
            logs / "bare-http.log",
        ) as bare_pid:
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                await _wait_http(client, f"http://127.0.0.1:{bare_port}/health")
                bodies = [_referral_body(i, run_id) for i in range(requests + 20)]
                print(f"• HTTP create: {requests} requests, {concurrency} concurrent…", flush=True)
                bare = await _measure_http(
                    client, bare_pid, f"http://127.0.0.1:{bare_port}/items", bodies, {}, concurrency
                )
                referral = services["referral"]
                # The referral service alone, as the bare endpoint is: its consumers stopped.
                # In a deployment they run on their own cores; here, on the same two, they
                # would take what the POSTs need (the row below measures it that way too).
                with _paused(services["dispositifs"], services["notifications"]):
                    project = await _measure_http(
                        client,
                        _pid(referral),
                        f"{referral.url}/v1/referrals",
                        bodies,
                        headers,
                        concurrency,
                        settle=lambda: _settled(client, referral, 60),
                    )
                beside = await _measure_http(
                    client,
                    _pid(referral),
                    f"{referral.url}/v1/referrals",
                    # Other job seekers: one open referral per job seeker and agency.
                    [_referral_body(len(bodies) + i, run_id) for i in range(len(bodies))],
                    headers,
                    concurrency,
                    settle=lambda: _settled(client, referral, 60),
                )
                table_out.add(
                    "`POST /v1/referrals`, CPU per request (server process)",
                    f"{project.cpu_ms_per_op:.1f} ms",
                    f"{bare.cpu_ms_per_op:.1f} ms per insert",
                    _ratio(project.cpu_ms_per_op, bare.cpu_ms_per_op),
                )
                table_out.add(
                    f"HTTP create throughput, {concurrency} concurrent",
                    f"{project.per_second:.0f} req/s",
                    f"{bare.per_second:.0f} req/s",
                    _ratio(project.per_second, bare.per_second),
                )
                table_out.add(
                    "HTTP create latency p50 / p99",
                    f"{project.percentile(0.5):.0f} / {project.percentile(0.99):.0f} ms",
                    f"{bare.percentile(0.5):.0f} / {bare.percentile(0.99):.0f} ms",
                    "",
                )
                table_out.add(
                    "the same, dispositifs and notifications consuming them on the same cores",
                    f"{beside.per_second:.0f} req/s, {beside.cpu_ms_per_op:.1f} ms CPU each, "
                    f"p50 / p99 {beside.percentile(0.5):.0f} / {beside.percentile(0.99):.0f} ms",
                    "",
                    f"{_ratio(beside.per_second, bare.per_second)} (CPU "
                    f"{_ratio(beside.cpu_ms_per_op, bare.cpu_ms_per_op)})",
                )

                if time.monotonic() < deadline:
                    await _drain_rows(
                        table_out,
                        client,
                        services,
                        urls,
                        bootstrap,
                        bare_consumer_url,
                        events,
                        logs,
                        run_id,
                        deadline,
                    )
                if rates and time.monotonic() < deadline - 30:
                    await _e2e_rows(
                        table_out,
                        services,
                        urls,
                        bootstrap,
                        headers,
                        logs,
                        work,
                        rates=rates,
                        seconds=rate_seconds,
                        grace=grace,
                        deadline=deadline,
                    )
                elif rates:
                    table_out.notes.append("end to end at fixed rates: skipped (time budget)")
                # The middleware's price comes last: the end-to-end rows matter more to the
                # issue's targets when the budget is short.
                if time.monotonic() < deadline - 60:
                    await _middleware_rows(table_out, client, work, logs, bodies, concurrency)
                else:
                    table_out.notes.append("middleware row: skipped (time budget)")
                rss = {name: rss_mb(_pid(s)) for name, s in services.items()}
                table_out.add(
                    "RSS after the load (referral / dispositifs / notifications)",
                    " / ".join(f"{rss[n]:.0f}" for n in SERVICE_NAMES) + " MB",
                    f"{rss_mb(bare_pid):.0f} MB (bare HTTP)",
                    "",
                )
    finally:
        for service in services.values():
            await asyncio.to_thread(service.stop)
    table_out.notes.append(f"load average at the end (1/5/15 min): {load_average()}")
    return table_out


async def _middleware_rows(
    table_out: Table,
    client: httpx.AsyncClient,
    work: Path,
    logs: Path,
    bodies: list[dict[str, Any]],
    concurrency: int,
) -> None:
    """The bare endpoint behind one BaseHTTPMiddleware, then behind the same work as pure ASGI."""
    measures: dict[str, Measure] = {}
    for kind in ("base", "asgi"):
        url = await create_database(f"bench-bare-{kind}", work)
        port = free_port()
        args = ["-m", "bench.bare_http", "--database-url", url, "--port", str(port)]
        with _process([*args, "--middleware", kind], logs / f"bare-{kind}.log") as pid:
            await _wait_http(client, f"http://127.0.0.1:{port}/health")
            measures[kind] = await _measure_http(
                client, pid, f"http://127.0.0.1:{port}/items", bodies, {}, concurrency
            )
    base, asgi = measures["base"], measures["asgi"]
    table_out.add(
        "one request-id middleware: BaseHTTPMiddleware vs pure ASGI (bare insert, CPU/req)",
        f"{base.cpu_ms_per_op:.2f} ms",
        f"{asgi.cpu_ms_per_op:.2f} ms",
        f"{_ratio(base.cpu_ms_per_op, asgi.cpu_ms_per_op)} "
        f"(+{base.cpu_ms_per_op - asgi.cpu_ms_per_op:.2f} ms)",
    )


async def _drain_rows(
    table_out: Table,
    client: httpx.AsyncClient,
    services: dict[str, ServiceProcess],
    urls: dict[str, str],
    bootstrap: str,
    bare_consumer_url: str,
    events: int,
    logs: Path,
    run_id: str,
    deadline: float,
) -> None:
    notifications = services["notifications"]
    engine = create_async_engine(urls["notifications"])
    dispositifs_engine = create_async_engine(urls["dispositifs"])
    bare_engine = create_async_engine(bare_consumer_url)
    processed = table("processed_events", column("event_type"))
    sent_count = (
        select(func.count())
        .select_from(processed)
        .where(processed.c.event_type == ReferralSent.event_type)
    )
    await _caught_up(
        urls["referral"], {"notifications": engine, "dispositifs": dispositifs_engine}, sent_count
    )
    bare_topic = f"bench.bare.{run_id}"
    settings = ServiceSettings(
        service_name="bench",
        environment="development",
        database_url="sqlite://",
        kafka_bootstrap_servers=bootstrap,
    )
    await ensure_topics(
        settings, [TopicSpec(bare_topic, "bench", partitions=REFERRAL_EVENTS.partitions)]
    )
    try:
        print(
            f"• consumer drain: {events} referral.sent (notifications and dispositifs)…",
            flush=True,
        )
        engines = {"notifications": engine, "dispositifs": dispositifs_engine}
        baselines = {name: await _count(e, sent_count) for name, e in engines.items()}

        def done_of(name: str) -> Any:
            async def done() -> bool:
                return await _count(engines[name], sent_count) >= baselines[name] + events

            return done

        timeout = max(10.0, deadline - time.monotonic())
        drained = await _measure_drains(
            {name: (_pid(services[name]), done_of(name)) for name in engines},
            bootstrap,
            REFERRAL_EVENTS.name,
            events,
            timeout,
        )
        project = drained.get("notifications")
        dispositifs_drain = drained.get("dispositifs")
        with _process(
            [
                "-m",
                "bench.bare_consumer",
                "--bootstrap",
                bootstrap,
                "--topic",
                bare_topic,
                "--group",
                f"bench-bare-{run_id}",
                "--database-url",
                bare_consumer_url,
            ],
            logs / "bare-consumer.log",
        ) as bare_pid:
            await _wait_table(bare_engine, "bare_received")
            await asyncio.sleep(3)  # joined its group

            async def bare_done() -> bool:
                return (
                    await _count(bare_engine, text("SELECT count(*) FROM bare_received")) >= events
                )

            timeout = max(10.0, deadline - time.monotonic())
            bare = await _measure_drain(bare_pid, bootstrap, bare_topic, events, bare_done, timeout)
            bare_rss = rss_mb(bare_pid)
        if project and bare:
            table_out.add(
                f"notifications draining {events} `referral.sent`",
                f"{project.per_second:.0f} events/s, {project.cpu_ms_per_op:.2f} ms CPU each",
                f"{bare.per_second:.0f} events/s, {bare.cpu_ms_per_op:.2f} ms each",
                f"{_ratio(project.per_second, bare.per_second)} (CPU "
                f"{_ratio(project.cpu_ms_per_op, bare.cpu_ms_per_op)})",
            )
            table_out.notes.append(f"bare consumer RSS: {bare_rss:.0f} MB")
        if dispositifs_drain and bare:
            table_out.add(
                f"dispositifs draining {events} `referral.sent` (at once with notifications)",
                f"{dispositifs_drain.per_second:.0f} events/s, "
                f"{dispositifs_drain.cpu_ms_per_op:.2f} ms CPU each",
                f"{bare.per_second:.0f} events/s, {bare.cpu_ms_per_op:.2f} ms each",
                f"{_ratio(dispositifs_drain.per_second, bare.per_second)} (CPU "
                f"{_ratio(dispositifs_drain.cpu_ms_per_op, bare.cpu_ms_per_op)})",
            )
            table_out.notes.append(
                "dispositifs batches (whole / again one by one): "
                + await _batch_counts(client, services["dispositifs"])
            )
            table_out.notes.append(
                "notifications batches (whole / again one by one): "
                + await _batch_counts(client, notifications)
            )
    finally:
        await engine.dispose()
        await dispositifs_engine.dispose()
        await bare_engine.dispose()


async def _e2e_rows(
    table_out: Table,
    services: dict[str, ServiceProcess],
    urls: dict[str, str],
    bootstrap: str,
    headers: list[dict[str, str]],
    logs: Path,
    work: Path,
    *,
    rates: tuple[float, ...],
    seconds: float,
    grace: float,
    deadline: float,
) -> None:
    """POST → agency notification stored at each fixed rate, the bare pipeline first."""
    run_id = uuid.uuid4().hex[:6]
    topic = f"bench.pipeline.{run_id}"
    settings = ServiceSettings(
        service_name="bench",
        environment="development",
        database_url="sqlite://",
        kafka_bootstrap_servers=bootstrap,
    )
    spec = TopicSpec(topic, "bench", partitions=REFERRAL_EVENTS.partitions)
    await ensure_topics(settings, [spec])
    bare_http_url = await create_database("bench-pipeline-http", work)
    bare_consumer_url = await create_database("bench-pipeline-consumer", work)
    notifications_engine = create_async_engine(urls["notifications"])
    bare_engine = create_async_engine(bare_consumer_url)

    project_seen = pipeline.agency_notifications_seen(notifications_engine)
    bare_seen = pipeline.bare_received_seen(bare_engine)

    port = free_port()
    notifications = services["notifications"]
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)  # health, metrics
    try:
        with (
            _process(
                [
                    "-m",
                    "bench.bare_http",
                    "--database-url",
                    bare_http_url,
                    "--port",
                    str(port),
                    "--publish-topic",
                    topic,
                    "--bootstrap",
                    bootstrap,
                ],
                logs / "pipeline-http.log",
            ) as http_pid,
            _process(
                [
                    "-m",
                    "bench.bare_consumer",
                    "--bootstrap",
                    bootstrap,
                    "--topic",
                    topic,
                    "--group",
                    f"bench-pipeline-{run_id}",
                    "--database-url",
                    bare_consumer_url,
                ],
                logs / "pipeline-consumer.log",
            ) as consumer_pid,
        ):
            async with (
                httpx.AsyncClient(timeout=grace + seconds + 30, limits=limits) as client,
                pipeline.load_clients(timeout=grace + seconds + 30) as drivers,
            ):
                await _wait_http(client, f"http://127.0.0.1:{port}/health")
                await _wait_table(bare_engine, "bare_received")
                await asyncio.sleep(3)  # the bare consumer joined its group
                for rate in rates:
                    needed = 2 * (seconds + 2 * grace) + 30
                    if time.monotonic() > deadline - needed:
                        table_out.notes.append(f"end to end at {rate:.0f}/s: skipped (time budget)")
                        continue
                    print(f"• end to end at {rate:.0f}/s for {seconds:.0f}s…", flush=True)
                    count = round(rate * seconds)
                    tag = uuid.uuid4().hex[:6]
                    bodies = [_referral_body(i, tag) for i in range(count)]
                    bare = await pipeline.run_at_rate(
                        drivers,
                        f"http://127.0.0.1:{port}/items",
                        bodies,
                        {},
                        rate=rate,
                        seconds=seconds,
                        grace=grace,
                        seen=bare_seen,
                        pids=[http_pid, consumer_pid],
                        names=["HTTP", "consumer"],
                    )
                    await _settled(client, notifications, 30)
                    lag_before = {n: await _loop_lag(client, services[n]) for n in SERVICE_NAMES}
                    project = await pipeline.run_at_rate(
                        drivers,
                        f"{services['referral'].url}/v1/referrals",
                        bodies,
                        headers,
                        rate=rate,
                        seconds=seconds,
                        grace=grace,
                        seen=project_seen,
                        pids=[_pid(services[name]) for name in SERVICE_NAMES],
                        names=list(SERVICE_NAMES),
                    )
                    table_out.rate_runs[rate] = (project, bare)
                    lag = {
                        n: _lag_since(lag_before[n], await _loop_lag(client, services[n]))
                        for n in SERVICE_NAMES
                    }
                    table_out.notes.append(
                        f"event loop at {rate:.0f}/s, ticks of 50 ms late by ≥ 25 / ≥ 100 ms, of "
                        "all ("
                        + " / ".join(SERVICE_NAMES)
                        + "): "
                        + "; ".join(
                            f"{lag[n][0.025]:.0f} / {lag[n][0.1]:.0f} of {lag[n][0.0]:.0f}"
                            for n in SERVICE_NAMES
                        )
                    )
                    table_out.add(
                        f"end to end at {rate:.0f}/s for {seconds:.0f} s, POST → agency "
                        "notification stored",
                        project.describe(),
                        bare.describe(),
                        f"CPU {_ratio(project.cpu_ms_per_referral, bare.cpu_ms_per_referral)}",
                    )
                    # The next rate starts from an idle pipeline (or as idle as 30 s make it).
                    for name in SERVICE_NAMES:
                        await _settled(client, services[name], 15)
    finally:
        await notifications_engine.dispose()
        await bare_engine.dispose()


class BenchError(RuntimeError):
    """A part of the bench could not run (not a matter of time budget)."""


async def metric_samples(client: httpx.AsyncClient, service: ServiceProcess) -> list[Sample]:
    """Every sample of the service's ``/metrics`` page (prometheus_client's own parser)."""
    page = (await client.get(f"{service.url}/metrics")).text
    return [sample for family in text_string_to_metric_families(page) for sample in family.samples]


async def _batch_counts(client: httpx.AsyncClient, service: ServiceProcess) -> str:
    """From the service's /metrics: batches applied whole and batches applied again one by one."""
    counts = {"batch": 0.0, "one_by_one": 0.0}
    for sample in await metric_samples(client, service):
        if sample.name == "coop_consumer_batches_total" and sample.labels.get("mode") in counts:
            counts[sample.labels["mode"]] += sample.value
    return f"{counts['batch']:.0f} / {counts['one_by_one']:.0f}"


async def _loop_lag(client: httpx.AsyncClient, service: ServiceProcess) -> dict[float, float]:
    """From the service's /metrics (``coop_event_loop_lag_seconds``): its loop's ticks so far
    (key 0.0) and, for each bucket's bound, the ticks later than that."""
    total, below = 0.0, {}
    for sample in await metric_samples(client, service):
        if sample.name == "coop_event_loop_lag_seconds_count":
            total = sample.value
        elif sample.name == "coop_event_loop_lag_seconds_bucket":
            bound = float(sample.labels["le"])
            if bound != float("inf"):
                below[bound] = sample.value
    return {0.0: total, **{bound: total - n for bound, n in below.items()}}


def _lag_since(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    return {bound: after.get(bound, 0.0) - before.get(bound, 0.0) for bound in after}


async def _wait_http(client: httpx.AsyncClient, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(url)).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise BenchError(f"{url} does not answer (see the logs under the bench's work directory)")


async def _wait_table(engine: AsyncEngine, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            await _count(engine, text(f"SELECT count(*) FROM {name}"))  # noqa: S608 - fixed name
            return
        await asyncio.sleep(0.2)
    raise BenchError(f"table {name} never appeared")

"""The bench's own code at a tiny size, so that it cannot rot (issue 14, item 8): the bare
pipeline at a fixed rate, the drain of several consumers at once, and the side-by-side run with the
three real services (the dispositifs drain and end-to-end rows included). Nothing here asserts a
figure or a time: only that every piece runs and measures what it says."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import pipeline, side_by_side
from shared.contracts.topics import TopicSpec
from shared.http.rate_limit import BucketPolicy, RateLimiter
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings
from shared.testing import create_database
from shared.testing_kafka import eventually


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="bench-test",
        environment="development",
        database_url="sqlite://",
        kafka_bootstrap_servers=bootstrap,
    )


def test_a_rate_run_counts_what_was_not_stored_as_beyond_the_grace() -> None:
    run = pipeline.RateRun(rate=2, seconds=2, grace=5, scheduled=4, unanswered=1)
    run.accepted = {"a": 0.0, "b": 0.5, "c": 1.0}
    run.stored = {"a": 0.1, "b": 0.8, "late": 9.0}  # "late": created though its POST timed out
    run.backlog_after_grace = 1
    run.cpu = 0.4
    assert run.stored_latencies_ms() == pytest.approx([100.0, 300.0])
    assert run.latencies_ms()[2:] == [float("inf"), float("inf")]
    assert run.percentile(0.5) == float("inf")
    assert run.percentile(0.5, stored_only=True) == pytest.approx(300.0)
    assert not run.kept_up
    assert run.cpu_ms_per_referral == pytest.approx(100.0)  # a, b, c and late went through
    assert "3 of 4 accepted (1 unanswered 5 s after the last send)" in run.describe()


def test_a_rate_run_says_why_its_requests_were_refused() -> None:
    run = pipeline.RateRun(rate=2, seconds=2, grace=5, scheduled=4)
    run.refuse("429")
    run.refuse("429")
    run.refuse("connection")
    assert run.refused == 3
    assert "(3 refused: 2 × 429, 1 × connection)" in run.describe()


def _refused_by_the_write_limit(headers: side_by_side.Headers, *, rate: float, count: int) -> int:
    """Requests ``count`` sent at ``rate`` a second would get a 429 from the service's default
    per-caller write limit (the caller is its token, as in ``shared.http.security``)."""
    settings = ServiceSettings(
        service_name="bench-test", environment="development", database_url="sqlite://"
    )
    now = 0.0
    limiter = RateLimiter(
        {
            "write": BucketPolicy(
                settings.rate_limit_writes_per_second, settings.rate_limit_write_burst
            )
        },
        clock=lambda: now,
    )
    refused = 0
    for i in range(count):
        now = i / rate
        caller = side_by_side.headers_of(headers, i)["Authorization"]
        refused += limiter.take("write", caller) is not None
    return refused


def test_the_bench_load_comes_from_callers_the_write_limit_lets_through() -> None:
    callers = side_by_side.caller_headers()
    assert len({h["Authorization"] for h in callers}) == side_by_side.CALLERS
    # One token at 50/s for 10 s: what the end-to-end row used to see (refused with 429).
    assert _refused_by_the_write_limit(callers[0], rate=50, count=500) > 100
    # The bench's callers in turn: nothing refused at the highest rate it drives.
    assert _refused_by_the_write_limit(callers, rate=150, count=1500) == 0
    assert _refused_by_the_write_limit(callers, rate=300, count=3000) == 0


async def test_the_bare_pipeline_at_a_fixed_rate_stores_every_accepted_item(
    kafka_broker: Any, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = f"bench.test.{uuid.uuid4().hex[:6]}"
    await ensure_topics(_settings(bootstrap), [TopicSpec(topic, "bench test", partitions=3)])
    http_url = await create_database("bench-test-http", tmp_path)
    consumer_url = await create_database("bench-test-consumer", tmp_path)
    engine = create_async_engine(consumer_url)
    port = side_by_side.free_port()
    http_args = ["-m", "bench.bare_http", "--database-url", http_url, "--port", str(port)]
    consumer_args = ["-m", "bench.bare_consumer", "--bootstrap", bootstrap, "--topic", topic]
    try:
        with (
            side_by_side._process(
                [*http_args, "--publish-topic", topic, "--bootstrap", bootstrap],
                tmp_path / "http.log",
            ) as http_pid,
            side_by_side._process(
                [*consumer_args, "--group", f"g-{topic}", "--database-url", consumer_url],
                tmp_path / "consumer.log",
            ) as consumer_pid,
        ):
            async with httpx.AsyncClient(timeout=60) as client:
                await side_by_side._wait_http(client, f"http://127.0.0.1:{port}/health")
                await side_by_side._wait_table(engine, "bare_received")
                run = await pipeline.run_at_rate(
                    client,
                    f"http://127.0.0.1:{port}/items",
                    [side_by_side._referral_body(i, "abc123") for i in range(10)],
                    {},
                    rate=5,
                    seconds=1,
                    grace=5,
                    seen=pipeline.bare_received_seen(engine),
                    pids=[http_pid, consumer_pid],
                )

                async def all_stored() -> bool:
                    async with engine.connect() as connection:
                        rows = await connection.execute(text("SELECT event_id FROM bare_received"))
                        return {row[0] for row in rows} >= set(run.accepted)

                await eventually(all_stored)
    finally:
        await engine.dispose()
    assert run.scheduled == 5  # 5/s for 1 s, of the 10 bodies given
    assert len(run.accepted) + run.failures == 5
    assert set(run.stored) <= set(run.accepted)
    assert run.backlog_after_grace == len(set(run.accepted) - set(run.stored))
    assert len(run.latencies_ms()) == 5
    assert run.cpu > 0
    assert "ms CPU each" in run.describe()


@pytest.mark.e2e
async def test_the_side_by_side_run_measures_every_row_at_a_tiny_size(
    kafka_broker: Any, tmp_path: Path
) -> None:
    table = side_by_side.Table()
    await side_by_side.run(
        kafka_broker.bootstrap_servers,
        tmp_path,
        table,
        requests=3,
        concurrency=2,
        events=3,
        budget=500,
        rates=(3.0,),
        rate_seconds=1,
        grace=30,
    )
    rows = {row[0]: row for row in table.rows}
    rendered = table.render()
    assert "`POST /v1/referrals`, CPU per request (server process)" in rows, rendered
    assert "notifications draining 3 `referral.sent`" in rows, rendered
    dispositifs = rows["dispositifs draining 3 `referral.sent` (at once with notifications)"]
    assert "ms CPU each" in dispositifs[1], rendered
    e2e = rows["end to end at 3/s for 1 s, POST → agency notification stored"]
    assert "p50" in e2e[1], rendered
    assert "p50" in e2e[2], rendered
    assert "RSS after the load (referral / dispositifs / notifications)" in rows, rendered
    assert "skipped" not in rendered, rendered
    project, bare = table.rate_runs[3.0]
    # The watchers find what the pipelines store: every accepted referral's agency notification
    # (3 referrals, 30 s of grace), every accepted bare item.
    assert project.accepted, rendered
    assert set(project.stored) == set(project.accepted), rendered
    assert set(bare.stored) == set(bare.accepted), rendered
    # Each service's loop ticked (every 50 ms) during the run, read from its /metrics.
    (lag,) = [n for n in table.notes if n.startswith("event loop at 3/s")]
    counts = [part.rsplit(" of ", 1)[1] for part in lag.split(": ", 1)[1].split("; ")]
    assert len(counts) == 3, lag
    assert all(int(c) > 0 for c in counts), lag
    print(rendered)

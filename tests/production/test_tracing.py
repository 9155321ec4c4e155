"""OpenTelemetry (issue 15): one trace from ``POST /v1/referrals`` through the outbox relay and
the broker into the consumers of notifications and dispositifs, seen by an in-memory exporter.

The three services' real apps run in this process (their lifespans start the relay and the
consumers) against the session's real broker, each on a fresh store, with tracing set up once
for the process; the trace context crosses Kafka only in the CloudEvent's ``traceparent``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import dispositifs
import notifications
import referral
from dispositifs.app import create_app as dispositifs_app
from dispositifs.settings import DispositifsSettings
from notifications.app import create_app as notifications_app
from notifications.settings import NotificationsSettings
from referral.app import create_app as referral_app
from referral.seed import seed_demo
from referral.settings import ReferralSettings
from shared.auth.tokens import Role, mint_token
from shared.observability.tracing import configure_tracing, disable_tracing, span
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import migrated_database

MIGRATIONS = {
    name: Path(module.__file__).parent / "migrations"  # type: ignore[arg-type]
    for name, module in (
        ("referral", referral),
        ("dispositifs", dispositifs),
        ("notifications", notifications),
    )
}
COMMON: dict[str, Any] = {
    "environment": "development",
    "jobs_enabled": False,
    "outbox_poll_interval_seconds": 0.2,
    "log_json": True,
}


@pytest.fixture
async def exporter() -> AsyncIterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    assert configure_tracing("coop-test", exporter=spans)
    try:
        yield spans
    finally:
        disable_tracing()


@pytest.fixture
async def platform(
    exporter: InMemorySpanExporter, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    urls = {
        name: await migrated_database(name, path, tmp_path) for name, path in MIGRATIONS.items()
    }
    kafka = {"kafka_bootstrap_servers": kafka_bootstrap, **COMMON}
    settings = ReferralSettings(database_url=urls["referral"], **kafka)
    await seed_demo(settings)
    apps = [
        referral_app(settings),
        dispositifs_app(DispositifsSettings(database_url=urls["dispositifs"], **kafka)),
        notifications_app(NotificationsSettings(database_url=urls["notifications"], **kafka)),
    ]
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[0]), base_url="http://referral"
        )
        await stack.enter_async_context(client)
        yield client


def _counsellor() -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="trace-counsellor",
        role=Role.COUNSELLOR,
        issuer="coop-platform-dev",
        audience="coop-platform",
        ft_structure="75101",
    )
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


async def test_one_trace_from_the_referral_post_to_both_consuming_services(
    platform: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    response = await platform.post(
        "/v1/referrals",
        headers=_counsellor(),
        json={
            "job_seeker": {"ft_identifier": "7654321B", "first_name": "Lou", "last_name": "Roux"},
            "agency_id": "agc-interim-nord-lille",
            "rome_code": "H2913",
            "message": "Trace de bout en bout.",
        },
    )
    assert response.status_code == 201, response.text
    referral_id = response.json()["id"]

    def spans_of_the_post() -> tuple[Any, list[Any]]:
        finished = exporter.get_finished_spans()
        server = next(
            s for s in finished if s.kind is SpanKind.SERVER and s.name == "POST /v1/referrals"
        )
        trace = [s for s in finished if s.context.trace_id == server.context.trace_id]
        return server, trace

    consumers = {"notifications.referral-events", "dispositifs.referral-events"}
    async with asyncio.timeout(60):
        while True:
            server, trace = spans_of_the_post()
            seen = {s.attributes.get("coop.consumer") for s in trace if s.kind is SpanKind.CONSUMER}
            if consumers <= seen:
                break
            await asyncio.sleep(0.2)

    assert server.attributes["coop.service"] == "referral"
    assert server.attributes["http.route"] == "/v1/referrals"
    assert server.attributes["http.response.status_code"] == 201
    publish = [
        s for s in trace if s.kind is SpanKind.PRODUCER and s.name == "referral.events publish"
    ]
    assert publish, [s.name for s in trace]
    # The relay's span is a child of the request's (the outbox row kept its context) …
    assert all(p.parent is not None and p.parent.span_id == server.context.span_id for p in publish)
    # … and each consumer's span a child of the relay's (the record's traceparent header).
    publish_ids = {p.context.span_id for p in publish}
    for consumer in consumers:
        processed = [
            s
            for s in trace
            if s.kind is SpanKind.CONSUMER and s.attributes.get("coop.consumer") == consumer
        ]
        assert processed, consumer
        assert all(s.parent is not None and s.parent.span_id in publish_ids for s in processed)
        assert {s.name for s in processed} == {"referral.events process"}
    # SQL: the request's statements are its children, with their text and never their values.
    sql = [s for s in trace if s.kind is SpanKind.CLIENT and "db.system" in (s.attributes or {})]
    inserts = [
        s
        for s in sql
        if s.parent is not None
        and s.parent.span_id == server.context.span_id
        and str(s.attributes["db.query.text"]).startswith("INSERT INTO referrals")
    ]
    assert inserts, sorted({s.name for s in sql})
    assert inserts[0].attributes["db.operation.name"] == "INSERT"
    assert inserts[0].name == f"INSERT {inserts[0].attributes['db.system']}"
    # … and the consumers' statements hang under their own spans.
    consumer_ids = {s.context.span_id for s in trace if s.kind is SpanKind.CONSUMER}
    assert any(s.parent is not None and s.parent.span_id in consumer_ids for s in sql)
    everything = str([dict(s.attributes or {}) for s in trace])
    assert referral_id not in everything  # no ids, no data
    assert "7654321B" not in everything
    assert "Roux" not in everything


def test_tracing_off_is_a_shared_no_op() -> None:
    disable_tracing()
    first = span("a")
    assert first is span("b")  # one object, nothing allocated per call
    with first as current:
        assert current is None

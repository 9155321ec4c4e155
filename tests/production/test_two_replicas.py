"""Two replicas of referral and of notifications on one PostgreSQL store each and one broker
(issue 15): referrals created on both referral replicas, one of each killed (SIGKILL) mid-stream;
every referral's event is published once (the relays share the outbox under an advisory lock),
the notifications replicas share the consumer group's partitions, and every event is handled
once (nothing lost, nothing doubled), checked from the stores and the topic.

PostgreSQL: ``COOP_TEST_POSTGRES_URL``, else a throwaway local cluster (``bench.pg``). Two
replicas on SQLite are not a supported setup (the relay takes no lock there: ``make up`` only).
Loopback only, bounded: 40 referrals, 3 minutes at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import notifications
import referral
from devstack.services import ServiceProcess, run_cli, service_env
from notifications.models import PLATFORM as NOTIFICATIONS_PLATFORM
from notifications.models import Notification
from referral.models import PLATFORM as REFERRAL_PLATFORM
from shared.auth.tokens import Role, mint_token
from shared.db.database import Database
from shared.messaging.dead_letter_cli import _read_all
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import POSTGRES_ENV, migrated_database

pytestmark = pytest.mark.e2e

REFERRALS = 40
SENT = "coop.referral.sent.v1"
CONSUMER = "notifications.referral-events"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _postgres() -> Iterator[None]:
    if os.environ.get(POSTGRES_ENV):
        yield
        return
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("no PostgreSQL: set COOP_TEST_POSTGRES_URL or install initdb/pg_ctl")
    from bench.pg import postgres_store

    # The cluster runs as the postgres user: a directory it can reach (pytest's are root's).
    work = Path(tempfile.mkdtemp(prefix="coop-replicas-pg-"))
    work.chmod(0o755)
    try:
        with postgres_store(work) as admin_url:
            os.environ[POSTGRES_ENV] = admin_url
            try:
                yield
            finally:
                os.environ.pop(POSTGRES_ENV, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
async def replicas(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("replicas")
    with _postgres():
        urls = {
            name: await migrated_database(name, Path(module.__file__).parent / "migrations", work)  # type: ignore[arg-type]
            for name, module in (("referral", referral), ("notifications", notifications))
        }
        processes: dict[str, list[ServiceProcess]] = {}
        for name in urls:
            env = service_env(
                name,
                database_url=urls[name],
                bootstrap_servers=kafka_broker.bootstrap_servers,
                extra={"LOG_JSON": "true", "OUTBOX_POLL_INTERVAL_SECONDS": "0.2"},
            )
            if name == "referral":
                await asyncio.to_thread(run_cli, name, "seed", env)
            processes[name] = [
                ServiceProcess(name, _free_port(), env, work / f"{name}-{i}.log") for i in (1, 2)
            ]
        everyone = [p for group in processes.values() for p in group]
        try:
            for process in everyone:
                process.start()
            for process in everyone:
                await asyncio.to_thread(process.wait_ready, 120)
            yield {
                "urls": urls,
                "processes": processes,
                "bootstrap": kafka_broker.bootstrap_servers,
            }
        finally:
            for process in everyone:
                process.stop()


def _headers() -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="replica-counsellor",
        role=Role.COUNSELLOR,
        issuer="coop-platform-dev",
        audience="coop-platform",
        ft_structure="75101",
    )
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


async def _create(client: httpx.AsyncClient, url: str, index: int) -> str:
    response = await client.post(
        f"{url}/v1/referrals",
        headers=_headers(),
        json={
            "job_seeker": {
                "ft_identifier": f"{1000000 + index}R",
                "first_name": "Alex",
                "last_name": f"Replica{index}",
            },
            "agency_id": "agc-interim-nord-lille",
            "rome_code": "H2913",
            "message": "Deux réplicas.",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _topic_event_ids(bootstrap: str, wanted: set[str]) -> list[str]:
    """Every ``ce_id`` of ``referral.events`` among ``wanted`` (with repetitions), read to the
    end offsets taken after every event was marked published (a duplicate would be before)."""
    async with asyncio.timeout(90):
        records = await _read_all(bootstrap, "referral.events")
    ids = (dict(record.headers).get("ce_id", b"").decode() for record in records)
    return [ce_id for ce_id in ids if ce_id in wanted]


async def test_two_replicas_lose_nothing_and_double_nothing(replicas: dict[str, Any]) -> None:
    referral_1, referral_2 = replicas["processes"]["referral"]
    notifications_1, notifications_2 = replicas["processes"]["notifications"]
    # Both notifications replicas share the group's partitions.
    ready = [
        p.wait_ready(30)["checks"][f"consumer:{CONSUMER}"]
        for p in (notifications_1, notifications_2)
    ]
    assert all(check["partitions"] > 0 for check in ready), ready

    created: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(REFERRALS // 2):  # alternately on both referral replicas
            url = (referral_1 if index % 2 else referral_2).url
            created.append(await _create(client, url, index))
        # Mid-stream: one replica of each service dies without any shutdown code.
        referral_2.kill()
        notifications_2.kill()
        for index in range(REFERRALS // 2, REFERRALS):
            created.append(await _create(client, referral_1.url, index))

    referral_db = Database(replicas["urls"]["referral"])
    notifications_db = Database(replicas["urls"]["notifications"])
    outbox = REFERRAL_PLATFORM.outbox
    processed = NOTIFICATIONS_PLATFORM.processed_events
    try:
        async with asyncio.timeout(180):
            while True:
                async with referral_db.read_session() as session:
                    rows = (
                        await session.execute(
                            select(outbox.c.event_id, outbox.c.key, outbox.c.published_at).where(
                                outbox.c.event_type == SENT
                            )
                        )
                    ).all()
                sent = {row.event_id for row in rows}
                async with notifications_db.read_session() as session:
                    handled = list(
                        await session.scalars(
                            select(processed.c.event_id).where(
                                processed.c.consumer == CONSUMER,
                                processed.c.event_id.in_(sent),
                            )
                        )
                    )
                if (
                    len(rows) == REFERRALS
                    and all(r.published_at for r in rows)
                    and len(set(handled)) == len(sent)
                ):
                    break
                await asyncio.sleep(0.5)
        # One sent event per referral, each published, for the referrals created.
        assert sorted(row.key for row in rows) == sorted(created)
        assert len(sent) == REFERRALS
        # On the topic exactly once each: two relays, one publishing at a time.
        on_topic = await _topic_event_ids(replicas["bootstrap"], sent)
        assert sorted(on_topic) == sorted(sent), "an event lost or published twice"
        # Handled once each by the notifications group, and their effects once each.
        assert sorted(handled) == sorted(sent)
        async with notifications_db.read_session() as session:
            per_event = dict(
                (
                    await session.execute(
                        select(Notification.event_id, func.count())
                        .where(Notification.event_id.in_(sent))
                        .group_by(Notification.event_id)
                    )
                ).all()
            )
        assert set(per_event) == sent, "an event without its notification"
        # The surviving notifications replica took over the dead one's partitions.
        check = notifications_1.wait_ready(60)["checks"][f"consumer:{CONSUMER}"]
        assert check["partitions"] == 3, check
    finally:
        await referral_db.dispose()
        await notifications_db.dispose()

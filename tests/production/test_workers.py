"""``serve --workers 2`` (issue 14, "use the cores"): on PostgreSQL two worker processes behind
one port serve the requests (which process accepted each connection is read from ``/proc``),
both join their service's consumer group, the relays take turns under the outbox lock, and each
referral flows once (published once on the topic, one notification). On SQLite more than one
worker is refused in French; with ``--http-only-extra`` both workers serve, one elected worker
relays (each referral published once).

PostgreSQL: ``COOP_TEST_POSTGRES_URL``, else a throwaway local cluster (``bench.pg``).
Loopback only, bounded: 12 referrals, a few minutes at most.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import notifications
import referral
from devstack.lifetime import parent_death_signal
from devstack.services import ServiceProcess, run_cli, service_env
from localkafka import free_port
from notifications.models import PLATFORM as NOTIFICATIONS_PLATFORM
from notifications.models import Notification
from referral.models import PLATFORM as REFERRAL_PLATFORM
from shared.auth.tokens import Role, mint_token
from shared.db.database import Database
from shared.messaging.dead_letter_cli import _read_all
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import migrated_database
from tests.production.stores import postgres

pytestmark = pytest.mark.e2e

REFERRALS = 12
SENT = "coop.referral.sent.v1"
CONSUMER = "notifications.referral-events"


@dataclass
class WorkersProcess(ServiceProcess):
    """``python -m <service> serve --workers N``: the supervisor and its N workers."""

    workers: int = 2
    extra_args: tuple[str, ...] = ()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    self.name,
                    "serve",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    *self.extra_args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stop() signals the group: the workers too
                preexec_fn=parent_death_signal(),
            )

    def worker_pids(self) -> set[int]:
        """The supervisor's worker processes (not multiprocessing's resource tracker)."""
        assert self._proc is not None
        pid = self._proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        workers = set()
        for child in children:
            with _gone():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"spawn_main" in cmdline:
                    workers.add(int(child))
        return workers


class _gone:
    """Suppresses a process that ended while its /proc entry was read."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *_: Any) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError | ProcessLookupError)


def _server_pid(server_port: int, client_port: int, pids: set[int]) -> int | None:
    """The worker holding the accepted socket of the connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if (
            state == "01"  # established
            and int(local.split(":")[1], 16) == server_port
            and int(remote.split(":")[1], 16) == client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        with _gone():
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with _gone():
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
    return None


async def _served_by(
    process: WorkersProcess, method: str, path: str, **request: Any
) -> tuple[int | None, httpx.Response]:
    """One request on a new connection; the worker that served it, read while it is open."""
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        response = await client.request(method, path, **request)
        stream = response.extensions["network_stream"]
        client_port = stream.get_extra_info("socket").getsockname()[1]
        pids = process.worker_pids()
        return _server_pid(process.port, client_port, pids), response


def _counsellor() -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="workers-counsellor",
        role=Role.COUNSELLOR,
        issuer="coop-platform-dev",
        audience="coop-platform",
        ft_structure="75101",
    )
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


def _referral(index: int) -> dict[str, Any]:
    return {
        "job_seeker": {
            "ft_identifier": f"{2000000 + index}W",
            "first_name": "Sacha",
            "last_name": f"Worker{index}",
        },
        "agency_id": "agc-interim-nord-lille",
        "rome_code": "H2913",
        "message": "Deux processus.",
    }


@pytest.fixture(scope="module")
async def workers(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("workers")
    with postgres():
        urls = {
            name: await migrated_database(name, Path(module.__file__).parent / "migrations", work)  # type: ignore[arg-type]
            for name, module in (("referral", referral), ("notifications", notifications))
        }
        processes: dict[str, WorkersProcess] = {}
        for name, url in urls.items():
            env = service_env(
                name,
                database_url=url,
                bootstrap_servers=kafka_broker.bootstrap_servers,
                extra={"LOG_JSON": "true", "OUTBOX_POLL_INTERVAL_SECONDS": "0.2"},
            )
            if name == "referral":
                await asyncio.to_thread(run_cli, name, "seed", env)
            processes[name] = WorkersProcess(name, free_port(), env, work / f"{name}.log")
        try:
            for process in processes.values():
                process.start()
            for process in processes.values():
                await asyncio.to_thread(process.wait_ready, 180)
            yield {
                "urls": urls,
                "processes": processes,
                "bootstrap": kafka_broker.bootstrap_servers,
            }
        finally:
            for process in processes.values():
                process.stop()


async def _from_each_worker(
    process: WorkersProcess, method: str, path: str, *, within: float = 120, **request: Any
) -> dict[int, httpx.Response]:
    """Repeat the request on new connections until each worker has answered it once."""
    answers: dict[int, httpx.Response] = {}
    deadline = time.monotonic() + within
    while len(answers) < process.workers:
        assert time.monotonic() < deadline, f"only workers {sorted(answers)} answered"
        pid, response = await _served_by(process, method, path, **request)
        if pid is not None and response.status_code == 200:
            answers.setdefault(pid, response)
    return answers


async def test_two_workers_serve_consume_and_relay_each_referral_once(
    workers: dict[str, Any],
) -> None:
    referral_service = workers["processes"]["referral"]
    notifications_service = workers["processes"]["notifications"]
    assert len(referral_service.worker_pids()) == 2
    assert len(notifications_service.worker_pids()) == 2

    # Both notifications workers are in the consumer group, each with its share. Each worker's
    # answer is a moment of its own: one taken while the group was still rebalancing (the first
    # worker holding all three partitions, the second already one) is asked again.
    deadline = time.monotonic() + 60
    while True:
        ready = await _from_each_worker(notifications_service, "GET", "/health/ready")
        shares = [
            answer.json()["checks"][f"consumer:{CONSUMER}"]["partitions"]
            for answer in ready.values()
        ]
        if (all(share > 0 for share in shares) and sum(shares) == 3) or (
            time.monotonic() > deadline
        ):
            break
        await asyncio.sleep(0.5)
    assert all(share > 0 for share in shares), shares
    assert sum(shares) == 3, shares

    # Referrals created on new connections: both workers take some.
    created: dict[str, int] = {}
    served: set[int] = set()
    deadline = time.monotonic() + 120
    index = 0
    while len(created) < REFERRALS or len(served) < 2:
        assert time.monotonic() < deadline, f"referrals served by workers {served} only"
        pid, response = await _served_by(
            referral_service, "POST", "/v1/referrals", headers=_counsellor(), json=_referral(index)
        )
        index += 1
        assert response.status_code == 201, response.text
        created[str(response.json()["id"])] = pid or 0
        if pid is not None:
            served.add(pid)
    assert served == referral_service.worker_pids()

    referral_db = Database(workers["urls"]["referral"])
    notifications_db = Database(workers["urls"]["notifications"])
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
                                processed.c.consumer == CONSUMER, processed.c.event_id.in_(sent)
                            )
                        )
                    )
                if (
                    len(rows) == len(created)
                    and all(row.published_at for row in rows)
                    and sorted(handled) == sorted(sent)
                ):
                    break
                await asyncio.sleep(0.5)
        assert sorted(row.key for row in rows) == sorted(created)
        async with asyncio.timeout(90):
            records = await _read_all(workers["bootstrap"], "referral.events")
        on_topic = [
            ce_id
            for ce_id in (dict(record.headers).get("ce_id", b"").decode() for record in records)
            if ce_id in sent
        ]
        assert sorted(on_topic) == sorted(sent), "an event lost or published twice"
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
    finally:
        await referral_db.dispose()
        await notifications_db.dispose()


@pytest.mark.store_independent
def test_sqlite_refuses_two_workers_in_french(tmp_path: Path) -> None:
    env = service_env(
        "referral",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'referral.db'}",
        bootstrap_servers="127.0.0.1:9",
    )
    result = subprocess.run(
        [sys.executable, "-m", "referral", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "--workers 2 refusé avec SQLite" in result.stderr, result.stderr
    assert "--http-only-extra" in result.stderr


@pytest.mark.store_independent
async def test_sqlite_http_only_extra_workers_serve_and_one_relays(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path: Path
) -> None:
    """SQLite with ``--http-only-extra``: both workers serve requests, one (elected) relays,
    consumes and runs the jobs; each referral is published once."""
    database = tmp_path / "referral.db"
    url = f"sqlite+aiosqlite:///{database}"
    env = service_env(
        "referral",
        database_url=url,
        bootstrap_servers=kafka_broker.bootstrap_servers,
        extra={"LOG_JSON": "true", "OUTBOX_POLL_INTERVAL_SECONDS": "0.2"},
    )
    await asyncio.to_thread(run_cli, "referral", "migrate", env)
    await asyncio.to_thread(run_cli, "referral", "seed", env)
    process = WorkersProcess(
        "referral", free_port(), env, tmp_path / "referral.log", extra_args=("--http-only-extra",)
    )
    process.start()
    try:
        await asyncio.to_thread(process.wait_ready, 180)
        ready = await _from_each_worker(process, "GET", "/health/ready")
        roles = sorted("background" in answer.json()["checks"] for answer in ready.values())
        assert roles == [False, True], "not exactly one worker elected for the background work"
        created: set[str] = set()
        served: set[int] = set()
        deadline = time.monotonic() + 120
        index = 100
        while len(created) < 6 or len(served) < 2:
            assert time.monotonic() < deadline, f"referrals served by workers {served} only"
            pid, response = await _served_by(
                process, "POST", "/v1/referrals", headers=_counsellor(), json=_referral(index)
            )
            index += 1
            assert response.status_code == 201, response.text
            created.add(str(response.json()["id"]))
            if pid is not None:
                served.add(pid)
        database_handle = Database(url)
        outbox = REFERRAL_PLATFORM.outbox
        try:
            async with asyncio.timeout(120):
                while True:
                    async with database_handle.read_session() as session:
                        rows = (
                            await session.execute(
                                select(
                                    outbox.c.event_id, outbox.c.key, outbox.c.published_at
                                ).where(outbox.c.event_type == SENT)
                            )
                        ).all()
                    if len(rows) == len(created) and all(row.published_at for row in rows):
                        break
                    await asyncio.sleep(0.3)
        finally:
            await database_handle.dispose()
        assert sorted(row.key for row in rows) == sorted(created)
        sent = {row.event_id for row in rows}
        async with asyncio.timeout(90):
            records = await _read_all(kafka_broker.bootstrap_servers, "referral.events")
        on_topic = [
            ce_id
            for ce_id in (dict(record.headers).get("ce_id", b"").decode() for record in records)
            if ce_id in sent
        ]
        assert sorted(on_topic) == sorted(sent), "an event lost or published twice"
    finally:
        process.stop()

"""Periodic jobs run once across processes (issue 15): the job lease on PostgreSQL (an advisory
lock on a connection of its own), the background election of HTTP-only workers on SQLite, and
``serve --workers`` refusing what SQLite cannot do, in French."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.cli import check_workers
from shared.db.tables import platform_tables
from shared.jobs import LEASE_NAMESPACE, BackgroundElection, JobLeases, lease_key
from shared.runtime import PeriodicJob, ServiceRuntime
from shared.settings import ServiceSettings
from shared.testing import POSTGRES_ENV, create_database

postgres_only = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV),
    reason="the job lease is PostgreSQL's advisory lock: set COOP_TEST_POSTGRES_URL",
)


def _runtime(url: str, jobs: list[PeriodicJob]) -> ServiceRuntime:
    settings = ServiceSettings(  # type: ignore[call-arg]
        service_name="lease-test",
        environment="development",
        database_url=url,
        kafka_enabled=False,
        jobs_enabled=False,  # ticks driven by the test
        log_json=False,
        log_level="WARNING",
    )
    return ServiceRuntime(settings, tables=platform_tables(MetaData()), jobs=jobs)


def test_lease_keys_are_stable_and_per_service_and_job() -> None:
    assert lease_key("referral", "referral-expiry") == lease_key("referral", "referral-expiry")
    keys = {lease_key(s, j) for s in ("referral", "notifications") for j in ("a", "reminders")}
    assert len(keys) == 4
    assert all(-(2**31) <= key < 2**31 for key in keys)


@postgres_only
async def test_a_held_lease_is_refused_elsewhere_and_granted_once_released(
    tmp_path: Path,
) -> None:
    url = await create_database("leases", tmp_path)
    first = JobLeases(url, namespace="referral")
    second = JobLeases(url, namespace="referral")  # another process: its own connections
    other_service = JobLeases(url, namespace="notifications")
    try:
        async with first.hold("expiry") as held:
            assert held
            async with second.hold("expiry") as elsewhere:
                assert not elsewhere, "two processes hold one job's lease"
            async with second.hold("archive") as another_job:
                assert another_job, "a lease blocks another job"
            async with other_service.hold("expiry") as same_name:
                assert same_name, "a lease blocks another service's job of the same name"
        async with second.hold("expiry") as released:
            assert released, "the lease outlived its run"
        # A run that fails releases its lease too.
        with pytest.raises(RuntimeError):
            await _failing_run(first)
        async with second.hold("expiry") as after_failure:
            assert after_failure
    finally:
        for leases in (first, second, other_service):
            await leases.dispose()


async def _failing_run(leases: JobLeases) -> None:
    async with leases.hold("expiry") as held:
        assert held
        raise RuntimeError("job failed")


@postgres_only
async def test_a_process_killed_while_holding_a_lease_loses_it(tmp_path: Path) -> None:
    url = await create_database("leases-kill", tmp_path)
    key = lease_key("referral", "expiry")
    holder = textwrap.dedent(
        f"""
        import asyncio, sys
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        async def main():
            engine = create_async_engine({url!r}, isolation_level="AUTOCOMMIT")
            async with engine.connect() as connection:
                held = await connection.scalar(
                    text("SELECT pg_try_advisory_lock({LEASE_NAMESPACE}, {key})")
                )
                print("held" if held else "refused", flush=True)
                await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", holder, stdout=asyncio.subprocess.PIPE
    )
    leases = JobLeases(url, namespace="referral")
    try:
        assert process.stdout is not None
        answer = ""
        async with asyncio.timeout(60):
            while answer not in ("held", "refused"):
                answer = (await process.stdout.readline()).decode().strip()
        assert answer == "held"
        async with leases.hold("expiry") as held:
            assert not held
        process.send_signal(signal.SIGKILL)  # no unlock: the connection just goes
        await process.wait()
        deadline = time.monotonic() + 30
        while True:
            async with leases.hold("expiry") as held:
                if held:
                    break
            assert time.monotonic() < deadline, "a dead process's lease was never released"
            await asyncio.sleep(0.2)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await leases.dispose()


@postgres_only
async def test_two_runtimes_never_run_an_exclusive_job_at_once(tmp_path: Path) -> None:
    """Two service processes (two runtimes, their own pools) ticking together: each exclusive
    run has the job to itself; the same job without the lease does overlap (the test can fail)."""
    url = await create_database("leases-runtime", tmp_path)
    runs: dict[str, list[tuple[float, float]]] = {"exclusive": [], "shared": []}

    def job(name: str, exclusive: bool) -> PeriodicJob:
        async def run(_runtime: ServiceRuntime) -> None:
            started = time.monotonic()
            await asyncio.sleep(0.3)
            runs[name].append((started, time.monotonic()))

        return PeriodicJob(name, 3600, run, exclusive)

    jobs = [job("exclusive", True), job("shared", False)]
    replicas = [_runtime(url, jobs), _runtime(url, jobs)]
    try:
        winners = []
        for _ in range(4):
            ticks = await asyncio.gather(
                *(replica.run_job_once(jobs[0]) for replica in replicas),
                *(replica.run_job_once(jobs[1]) for replica in replicas),
            )
            exclusive_ticks, shared_ticks = ticks[:2], ticks[2:]
            assert sorted(exclusive_ticks) == [False, True], "not exactly one replica ran it"
            assert shared_ticks == [True, True]
            winners.append(exclusive_ticks.index(True))
        # Once per interval across the replicas: the holder keeps the lease from tick to tick.
        assert len(set(winners)) == 1, winners
        assert len(runs["exclusive"]) == 4
        assert not _overlaps(runs["exclusive"]), "two replicas ran the job at once"
        assert _overlaps(runs["shared"]), "the control job never overlapped: the test is blind"
        # The holder stops: the other replica takes the lease at its next tick.
        holder, other = replicas[winners[0]], replicas[1 - winners[0]]
        await holder.leases.dispose()
        assert await other.run_job_once(jobs[0])
        assert not await holder.run_job_once(jobs[0])
    finally:
        for replica in replicas:
            await replica.leases.dispose()
            await replica.database.dispose()


def _last_word(stream: IO[str]) -> str:
    """The holder's answer, past any log line it printed first."""
    words = {"elected", "http-only"}
    while (line := stream.readline()) and line.strip() not in words:
        pass
    return line.strip()


@postgres_only
async def test_a_kept_lease_whose_connection_is_lost_passes_to_another_process(
    tmp_path: Path,
) -> None:
    url = await create_database("leases-lost", tmp_path)
    first = JobLeases(url, namespace="notifications")
    second = JobLeases(url, namespace="notifications")
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        assert await first.keep("reminders")
        assert await first.keep("reminders"), "a kept lease was not kept"
        assert not await second.keep("reminders")
        # The holder's session ends (a lost node, a killed backend) without it knowing.
        key = lease_key("notifications", "reminders") & 0xFFFFFFFF
        async with admin.connect() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE "
                    "locktype = 'advisory' AND classid = :space AND objid = :key "
                    "AND objsubid = 2 AND granted"
                ),
                {"space": LEASE_NAMESPACE, "key": key},
            )
        assert killed == 1
        deadline = time.monotonic() + 30
        while not await second.keep("reminders"):
            assert time.monotonic() < deadline, "a lost session's lease never passed on"
            await asyncio.sleep(0.2)
        assert not await first.keep("reminders"), "the old holder still thinks it holds it"
        await second.release("reminders")
        assert await first.keep("reminders"), "a released lease was not free"
    finally:
        await first.dispose()
        await second.dispose()
        await admin.dispose()


def _overlaps(intervals: list[tuple[float, float]]) -> bool:
    ordered = sorted(intervals)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ordered))


async def test_on_sqlite_the_lease_is_granted_to_the_one_background_process(
    tmp_path: Path,
) -> None:
    leases = JobLeases(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", namespace="referral")
    async with leases.hold("expiry") as held:
        assert held
    await leases.dispose()


def test_http_only_workers_elect_one_background_worker_and_take_over_when_it_dies(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    holder = textwrap.dedent(
        f"""
        import time
        from shared.jobs import BackgroundElection

        election = BackgroundElection({url!r})
        print("elected" if election.try_acquire() else "http-only", flush=True)
        time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    here = BackgroundElection(url)
    try:
        assert process.stdout is not None
        assert _last_word(process.stdout) == "elected"
        assert not here.try_acquire(), "two workers elected for the background work"
        assert not here.elected
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert here.try_acquire(), "the dead worker's election was never released"
        assert here.try_acquire()  # held: asking again keeps it
        third = BackgroundElection(url)
        assert not third.try_acquire()
        here.release()
        assert third.try_acquire()
        third.release()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        here.release()


async def test_an_http_only_worker_is_ready_and_runs_nothing_until_elected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'elect.db'}"
    ran: list[ServiceRuntime] = []

    async def run(runtime: ServiceRuntime) -> None:
        ran.append(runtime)

    monkeypatch.setenv("COOP_SERVE_BACKGROUND_ELECTION", "1")
    jobs = [PeriodicJob("tick", 0.05, run)]
    settings = {
        "service_name": "lease-test",
        "environment": "development",
        "database_url": url,
        "kafka_enabled": False,
        "jobs_enabled": True,
        "log_json": False,
        "log_level": "WARNING",
    }
    first = ServiceRuntime(
        ServiceSettings(**settings), tables=platform_tables(MetaData()), jobs=jobs
    )  # type: ignore[arg-type]
    second = ServiceRuntime(
        ServiceSettings(**settings), tables=platform_tables(MetaData()), jobs=jobs
    )  # type: ignore[arg-type]
    stopped: list[ServiceRuntime] = []
    await first.start()
    try:
        for _ in range(100):
            if first.runs_background:
                break
            await asyncio.sleep(0.05)
        assert first.runs_background
        await second.start()
        await asyncio.sleep(0.5)
        assert not second.runs_background
        status, body = await second.readiness_report()
        assert status == 200
        assert body["checks"]["background"] == {"ok": True, "worker": "http-only"}
        assert ran
        assert set(ran) == {first}, "the HTTP-only worker ran a job"
        await first.stop()  # the background worker goes: the HTTP-only one takes over
        stopped.append(first)
        # Counted once the stop is over: a tick already running when it began may end in it.
        ticks = len(ran)
        for _ in range(100):
            if second.runs_background:
                break
            await asyncio.sleep(0.1)
        assert second.runs_background
        await asyncio.sleep(0.3)
        assert len(ran) > ticks
        assert set(ran[ticks:]) == {second}
    finally:
        for runtime in (first, second):
            if runtime not in stopped:
                await runtime.stop()


@pytest.mark.parametrize(
    ("url", "workers", "http_only", "expected"),
    [
        ("postgresql+asyncpg://coop@db/referral", 4, False, 4),
        ("sqlite+aiosqlite:///var/referral.db", 1, False, 1),
        ("sqlite+aiosqlite:///var/referral.db", 3, True, 3),
    ],
)
def test_serve_workers_allowed(url: str, workers: int, http_only: bool, expected: int) -> None:
    assert check_workers("coop-referral", url, workers, http_only) == expected


@pytest.mark.parametrize(
    ("url", "workers", "http_only", "message"),
    [
        ("sqlite+aiosqlite:///var/referral.db", 2, False, "ajoutez --http-only-extra"),
        ("sqlite+aiosqlite://", 2, True, "en mémoire n'existe que dans un seul processus"),
        ("postgresql+asyncpg://coop@db/referral", 0, False, "au moins 1"),
    ],
)
def test_serve_workers_refused_in_french(
    url: str, workers: int, http_only: bool, message: str
) -> None:
    with pytest.raises(SystemExit) as refused:
        check_workers("coop-referral", url, workers, http_only)
    assert message in str(refused.value)
    assert str(refused.value).startswith("coop-referral serve : ")

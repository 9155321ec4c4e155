"""``make profile``: where the referral service's CPU goes under a steady ``POST /v1/referrals``
(``--target notifications-drain``: where the notifications consumer's goes under bursts of
``referral.sent``; ``--target notifications-trickle`` or ``dispositifs-trickle``: the same
events one at a time, ``--trickle`` a second, as they come at a steady load — batches of one).

Starts a throwaway Kafka broker and the real referral service (``python -m referral serve``, seeded,
on SQLite or, with ``STORE=postgres``, PostgreSQL), drives ``--concurrency`` concurrent creates for
``--seconds``, and samples the server process with py-spy (PyPI ``py-spy``) meanwhile. Writes to
``--out`` (default ``.data/profile/``):

- ``<target>.svg`` (``referral-post.svg``…): the flame graph (open it in a browser), samples
  holding the GIL only (Python on the CPU; time in SQLite's C code, outside the GIL, is not in it);
- ``<target>.raw.txt``: the collapsed stacks py-spy sampled;
- ``<target>-top.txt``: the top functions by inclusive and by own samples, and the samples by
  package — the list ``docs/performance.md`` discusses.

py-spy attaches to the running process: as root in a container it needs the ``SYS_PTRACE``
capability (``docker run --cap-add SYS_PTRACE``); elsewhere the same user as the service.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from bench.pg import postgres_store
from bench.procstat import cpu_seconds, load_average
from bench.side_by_side import (
    _load,
    _pid,
    _publish_sent,
    _referral_body,
    caller_headers,
    free_port,
    migrations_of,
    sent_record,
)
from devstack.services import ServiceProcess, run_cli, service_env
from localkafka import LocalKafka
from shared.messaging.kafka import PRODUCER_OPTIONS
from shared.testing import migrated_database


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: .venv/bin/python -m pip install py-spy")
    return found


def top_list(raw: Path, limit: int = 40) -> str:
    """Inclusive and own samples by function, and samples by package, from collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        # By function, not by line: "f (path.py:12)" → "f (path.py)".
        frames = [_LINE.sub(")", frame.strip()) for frame in stack.split(";") if frame.strip()]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
            packages[_package(frames[-1])] += count
    if not total:
        return "no samples\n"

    def section(title: str, counter: collections.Counter[str]) -> list[str]:
        lines = [f"## {title}", ""]
        for name, count in counter.most_common(limit):
            lines.append(f"{100 * count / total:5.1f} %  {name}")
        return [*lines, ""]

    project = collections.Counter(
        {name: count for name, count in inclusive.items() if _package(name) in _PROJECT}
    )
    return "\n".join(
        [
            f"# {total} samples (holding the GIL; 100 % = every sample of every thread)",
            "",
            *section("inclusive, the project's own code (shared and the services)", project),
            *section("inclusive (the function and what it calls)", inclusive),
            *section("own (the function itself)", own),
            *section("own samples by package", packages),
        ]
    )


_LINE = re.compile(r":\d+\)$")
_PROJECT = frozenset({"shared", "referral", "dispositifs", "notifications"})


def _package(frame: str) -> str:
    """``func (sqlalchemy/orm/session.py:12)`` → ``sqlalchemy``; ``(selectors.py:468)`` →
    ``selectors``: the first component of the path py-spy shows."""
    _, _, location = frame.partition("(")
    path = location.rstrip(")").rsplit(":", 1)[0]
    if not path:
        return frame
    head = path.split("/", 1)[0]
    return head.removesuffix(".py")


def _start_samplers(
    py_spy: str, pid: int, out: Path, args: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """Two py-spy recorders on the same process at once (flame graph and collapsed stacks)."""
    return [
        subprocess.Popen(  # noqa: S603 - py-spy on our own child process
            [
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(args.seconds),
                "--rate",
                str(args.rate),
                "--nonblocking",
                "--gil",  # on-CPU Python only: the event loop waiting in select() is not work
                "--format",
                fmt,
                "--output",
                str(out / name),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for fmt, name in (("flamegraph", f"{args.target}.svg"), ("raw", f"{args.target}.raw.txt"))
    ]


async def profile(args: argparse.Namespace) -> None:
    out = Path(args.out)
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    py_spy = _py_spy()
    with (
        tempfile.TemporaryDirectory(prefix="coop-profile-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        if os.environ.get("STORE", "sqlite") == "postgres":
            stack.enter_context(postgres_store(work))
        broker = LocalKafka(work / "kafka")
        await asyncio.to_thread(broker.ensure_jars)
        await asyncio.to_thread(broker.start)
        service: ServiceProcess | None = None
        try:
            name = args.target.split("-")[0]
            url = await migrated_database(f"profile-{name}", migrations_of(name), work)
            extra = {"LOG_JSON": "true", "LOG_LEVEL": "INFO"}
            if name != "referral":
                extra["JOBS_ENABLED"] = "false"  # the consumer alone, no SMTP here
            env = service_env(
                name, database_url=url, bootstrap_servers=broker.bootstrap_servers, extra=extra
            )
            if name == "referral":
                await asyncio.to_thread(run_cli, name, "seed", env)
            service = ServiceProcess(name, free_port(), env, work / f"{name}.log")
            service.start()
            await asyncio.to_thread(service.wait_ready, 120)
            pid = _pid(service)
            if args.target == "referral-post":
                done, wall, cpu, what = await _drive_posts(service, pid, py_spy, out, args)
            elif args.target.endswith("-trickle"):
                done, wall, cpu, what = await _drive_trickle(
                    broker.bootstrap_servers, pid, py_spy, out, args
                )
            else:
                done, wall, cpu, what = await _drive_drain(
                    broker.bootstrap_servers, pid, py_spy, out, args
                )
            raw = out / f"{args.target}.raw.txt"
            summary = (
                f"{args.target}: {done} {what} in {wall:.1f}s ({done / wall:.0f}/s), "
                f"{cpu * 1000 / max(done, 1):.1f} ms CPU each in the service process; "
                f"load average {load_average()}"
            )
            if raw.exists():
                (out / f"{args.target}-top.txt").write_text(
                    f"{summary}\n\n" + top_list(raw, args.top)
                )
            print(summary)
            print(
                f"flame graph: {out / (args.target + '.svg')}; top list: "
                f"{out / (args.target + '-top.txt')}"
            )
        finally:
            if service is not None:
                await asyncio.to_thread(service.stop)
            await asyncio.to_thread(broker.stop)


async def _wait_samplers(samplers: list[subprocess.Popen[bytes]], seconds: int) -> None:
    for sampler in samplers:
        _, err = await asyncio.to_thread(sampler.communicate, None, seconds + 60)
        if sampler.returncode:
            print(f"py-spy failed ({sampler.returncode}): {err.decode()[-2000:]}")


async def _drive_posts(
    service: ServiceProcess, pid: int, py_spy: str, out: Path, args: argparse.Namespace
) -> tuple[int, float, float, str]:
    # Several counsellors in turn, as ``make bench``: one alone meets its rate limit (20 writes a
    # second) and the profile would be of the 429 answers.
    headers = caller_headers()
    run_id = uuid.uuid4().hex[:6]
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        target = f"{service.url}/v1/referrals"
        warmup = [_referral_body(i, run_id) for i in range(30)]
        await _load(client, target, warmup, headers, args.concurrency)
        samplers = _start_samplers(py_spy, pid, out, args)
        cpu_before, started, sent = cpu_seconds(pid), time.monotonic(), 0
        i = 30
        while time.monotonic() - started < args.seconds:
            batch = [_referral_body(i + k, run_id) for k in range(args.concurrency * 4)]
            i += len(batch)
            _, failed = await _load(client, target, batch, headers, args.concurrency)
            sent += len(batch) - failed
        cpu = cpu_seconds(pid) - cpu_before
        wall = time.monotonic() - started
    await _wait_samplers(samplers, args.seconds)
    return sent, wall, cpu, "requests"


async def _drive_drain(
    bootstrap: str, pid: int, py_spy: str, out: Path, args: argparse.Namespace
) -> tuple[int, float, float, str]:
    """``referral.sent`` events put on ``referral.events`` in bursts while sampling."""
    from shared.contracts.topics import REFERRAL_EVENTS

    await _publish_sent(bootstrap, REFERRAL_EVENTS.name, 50)  # warm-up
    await asyncio.sleep(3)
    samplers = _start_samplers(py_spy, pid, out, args)
    cpu_before, started, sent = cpu_seconds(pid), time.monotonic(), 0
    while time.monotonic() - started < args.seconds:
        await _publish_sent(bootstrap, REFERRAL_EVENTS.name, args.burst)
        sent += args.burst
        await asyncio.sleep(1)
    cpu = cpu_seconds(pid) - cpu_before
    wall = time.monotonic() - started
    await _wait_samplers(samplers, args.seconds)
    return sent, wall, cpu, "events published (the consumer may still be behind)"


async def _drive_trickle(
    bootstrap: str, pid: int, py_spy: str, out: Path, args: argparse.Namespace
) -> tuple[int, float, float, str]:
    """``referral.sent`` events put on ``referral.events`` one at a time, ``--trickle`` a second."""
    from shared.contracts.topics import REFERRAL_EVENTS

    await _publish_sent(bootstrap, REFERRAL_EVENTS.name, 50)  # warm-up
    await asyncio.sleep(3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    try:
        samplers = _start_samplers(py_spy, pid, out, args)
        cpu_before, started, sent = cpu_seconds(pid), time.monotonic(), 0
        while (elapsed := time.monotonic() - started) < args.seconds:
            await (await producer.send(REFERRAL_EVENTS.name, **sent_record()))
            sent += 1
            await asyncio.sleep(max(0.0, sent / args.trickle - elapsed))
        await asyncio.sleep(1)  # the last ones consumed
        cpu = cpu_seconds(pid) - cpu_before
        wall = time.monotonic() - started
    finally:
        await producer.stop()
    await _wait_samplers(samplers, args.seconds)
    return sent, wall, cpu, "events published one at a time"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument(
        "--target",
        choices=(
            "referral-post",
            "notifications-drain",
            "notifications-trickle",
            "dispositifs-trickle",
        ),
        default="referral-post",
    )
    parser.add_argument("--trickle", type=int, default=50, help="events per second (trickle)")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--burst", type=int, default=100, help="events per second (drain)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default=".data/profile")
    asyncio.run(profile(parser.parse_args()))

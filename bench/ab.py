"""``python -m bench.ab``: two builds of the referral service side by side, CPU per
``POST /v1/referrals`` in alternating rounds — the way to tell a change of a few tenths of a
millisecond from the machine's drift between two ``make bench`` runs.

Side A is this checkout; side B is this checkout too, or another tree (``--tree-b``, e.g. a
``git worktree`` of the commit before a change: its ``shared/src`` and ``services/*/src`` go first
on ``PYTHONPATH``), each with its own environment (``--env-a``, ``--env-b``: ``KEY=VALUE`` pairs,
e.g. ``REFERRAL_INDICATOR_FACTS_INTERVAL_SECONDS=100000``). Both run at once on one throwaway Kafka
broker, each on its own SQLite store (or, with ``STORE=postgres``, a database of one throwaway
cluster); the rounds alternate which side goes first. Each round sends ``--requests`` creates at
``--concurrency`` and waits until the side's outbox is empty: the relay's publishing is counted.
Prints CPU per request (``/proc``, the service process) for every round and each side's median.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import uuid
from pathlib import Path

import httpx

from bench.pg import postgres_store
from bench.procstat import cpu_seconds, load_average
from bench.side_by_side import (
    _load,
    _pid,
    _referral_body,
    _settled,
    caller_headers,
    free_port,
    metric_samples,
    migrations_of,
)
from devstack.services import ServiceProcess, run_cli, service_env
from localkafka import LocalKafka
from shared.testing import migrated_database


def _pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env-a/--env-b : « {item} » n'est pas de la forme CLÉ=VALEUR")
        pairs[key] = value
    return pairs


def _python_path(tree: Path | None) -> dict[str, str]:
    if tree is None:
        return {}
    sources = [tree / "shared" / "src", *sorted((tree / "services").glob("*/src"))]
    missing = [str(path) for path in sources if not path.is_dir()]
    if missing:
        raise SystemExit(f"--tree-b : {', '.join(missing)} introuvable")
    return {"PYTHONPATH": os.pathsep.join(str(path) for path in sources)}


async def _round(
    client: httpx.AsyncClient,
    service: ServiceProcess,
    run: str,
    start: int,
    args: argparse.Namespace,
) -> tuple[float, list[float]]:
    headers = caller_headers()
    target = f"{service.url}/v1/referrals"
    bodies = [_referral_body(start + k, run) for k in range(args.requests)]
    await _settled(client, service, 60)
    pid = _pid(service)
    before = cpu_seconds(pid)
    latencies, failed = await _load(client, target, bodies, headers, args.concurrency)
    await _settled(client, service, 60)
    done = max(1, len(bodies) - failed)
    return (cpu_seconds(pid) - before) * 1000 / done, latencies


async def _full_collections(client: httpx.AsyncClient, service: ServiceProcess) -> str:
    """The process's full garbage collections so far, from its ``/metrics`` (prometheus_client's
    default collectors)."""
    for sample in await metric_samples(client, service):
        if sample.name == "python_gc_collections_total" and sample.labels["generation"] == "2":
            return f"{sample.value:.0f}"
    return "?"


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def main(args: argparse.Namespace) -> None:
    sides = {
        "A": {**_pairs(args.env_a)},
        "B": {**_pairs(args.env_b), **_python_path(Path(args.tree_b) if args.tree_b else None)},
    }
    with tempfile.TemporaryDirectory(prefix="coop-ab-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        if os.environ.get("STORE", "sqlite") == "postgres":
            stack.enter_context(postgres_store(work))
        broker = LocalKafka(work / "kafka")
        await asyncio.to_thread(broker.ensure_jars)
        await asyncio.to_thread(broker.start)
        services: dict[str, ServiceProcess] = {}
        try:
            for side, extra in sides.items():
                url = await migrated_database(f"ab-{side}", migrations_of("referral"), work)
                env = service_env(
                    "referral",
                    database_url=url,
                    bootstrap_servers=broker.bootstrap_servers,
                    extra={"LOG_JSON": "true", "LOG_LEVEL": "INFO"},
                )
                env.update(extra)  # full names: REFERRAL_…, PYTHONPATH
                await asyncio.to_thread(run_cli, "referral", "seed", env)
                services[side] = ServiceProcess(
                    "referral", free_port(), env, work / f"referral-{side}.log"
                )
                services[side].start()
            for service in services.values():
                await asyncio.to_thread(service.wait_ready, 120)
            figures: dict[str, list[float]] = {side: [] for side in sides}
            latencies: dict[str, list[float]] = {side: [] for side in sides}
            run = uuid.uuid4().hex[:6]
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                for side, service in services.items():  # warm-up, not counted
                    await _round(client, service, run, 900_000 if side == "A" else 950_000, args)
                for number in range(args.rounds):
                    order = ("A", "B") if number % 2 == 0 else ("B", "A")
                    for side in order:
                        start = (number * 2 + (side == "B") + 1) * args.requests
                        figure, waits = await _round(client, services[side], run, start, args)
                        figures[side].append(figure)
                        latencies[side].extend(waits)
                        print(f"round {number + 1} {side}: {figure:.2f} ms CPU per POST")
                for side, service in services.items():
                    print(
                        f"{side}: p99 {_p99(latencies[side]):.0f} ms over "
                        f"{len(latencies[side])} POSTs; full collections since start: "
                        f"{await _full_collections(client, service)}"
                    )
            a, b = (statistics.median(figures[side]) for side in ("A", "B"))
            print(
                f"median A {a:.2f} ms, B {b:.2f} ms, B/A {b / a:.3f} "
                f"({args.rounds} rounds of {args.requests}); load average {load_average()}"
            )
        finally:
            for service in services.values():
                await asyncio.to_thread(service.stop)
            await asyncio.to_thread(broker.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--env-a", default="", help="KEY=VALUE,… for side A")
    parser.add_argument("--env-b", default="", help="KEY=VALUE,… for side B")
    parser.add_argument("--tree-b", default=None, help="another checkout for side B")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))

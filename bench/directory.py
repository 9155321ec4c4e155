"""The agency directory at a network's real scale (issue 16, item 6): a 10,000-agency CSV
imported through ``PUT /v1/networks/{id}/agencies`` on the real referral app and store, the same
file again (idempotent re-sync: nothing written), then ``GET /v1/agencies/suggestions`` latency
and CPU per suggestion over that directory. Run alone, it measures a 100-agency directory first
and prints the CPU per suggestion at N against 100 as a ratio (issue 16's budget: within 2×).

Run alone with ``python -m bench.directory [--agencies N] [--suggestions N]`` (no broker needed:
the app runs in-process with Kafka off, on SQLite or, with ``COOP_TEST_POSTGRES_URL``, on
PostgreSQL), or as part of ``make bench``. Nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from stdnum import luhn

import referral
from bench.procstat import load_average, self_cpu_seconds
from referral.app import create_app
from referral.settings import ReferralSettings
from shared import referentials
from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import migrated_database, store_kind

HEADER = "id;name;siret;departement;commune;postcode;latitude;longitude;email;rome_codes"


def _siret(n: int) -> str:
    siren = f"7{n:07d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}{n % 10000:04d}"
    return body + luhn.calc_check_digit(body)


def directory_csv(count: int, seed: int = 16) -> str:
    """``count`` agencies over metropolitan France's départements, 1–5 ROME codes each, with
    coordinates (random around mainland France: the bench measures, it does not map)."""
    rng = random.Random(seed)
    departements = [
        code for code in referentials.departements() if len(code) == 2 or code in ("2A", "2B")
    ]
    codes = sorted(referentials.rome_metiers())
    lines = [HEADER]
    for n in range(count):
        departement = rng.choice(departements)
        postcode = (
            "20" if departement in ("2A", "2B") else departement
        ) + f"{rng.randint(0, 999):03d}"
        lines.append(
            ";".join(
                (
                    f"agc-bench-{n:06d}",
                    f"Agence bench {n}",
                    _siret(n),
                    departement,
                    f"Commune {n % 997}",
                    postcode,
                    f"{rng.uniform(42.5, 51.0):.5f}",
                    f"{rng.uniform(-4.5, 8.0):.5f}",
                    f"agence{n}@bench.example",
                    " ".join(rng.sample(codes, rng.randint(1, 5))),
                )
            )
        )
    return "\n".join(lines) + "\n"


def _bearer(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="bench",
        role=role,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {token}"}


async def bench_directory(
    work: Path, agencies: int = 10_000, suggestions: int = 200
) -> float | None:
    """Import, re-sync and suggest over ``agencies``; the median CPU milliseconds per suggestion
    (the whole process: the store's thread too), None when a step failed."""
    url = await migrated_database(
        f"bench-directory-{agencies}", Path(referral.__file__).parent / "migrations", work
    )
    settings = ReferralSettings(
        environment="development",
        database_url=url,
        kafka_enabled=False,
        jobs_enabled=False,
        log_json=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    body = directory_csv(agencies).encode()
    ops = _bearer(Role.OPS)
    network_token = _bearer(Role.AGENCY, agency_id="agc-bench-000000", network_id="bench-network")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://referral.bench", timeout=600
        ) as client:
            path = "/v1/networks/bench-network/agencies"
            headers = {"Content-Type": "text/csv"}
            started = time.perf_counter()
            first = await client.put(path, content=body, headers={**ops, **headers})
            imported = time.perf_counter() - started
            report = first.json()
            if first.status_code != 200:
                print(f"directory import: {first.status_code} {first.text[:300]}")
                return None
            print(
                f"directory import  : {agencies} agencies ({len(body) / 1e6:.1f} MB CSV) in "
                f"{imported:.2f}s = {agencies / imported:,.0f} lines/s (created "
                f"{report['created']}, rejected {len(report['rejected'])})",
                flush=True,
            )
            started = time.perf_counter()
            again = await client.put(path, content=body, headers={**network_token, **headers})
            resynced = time.perf_counter() - started
            print(
                f"directory re-sync : the same file by the network's token in {resynced:.2f}s "
                f"(unchanged {again.json()['unchanged']}, updated {again.json()['updated']})",
                flush=True,
            )
            counsellor = _bearer(Role.COUNSELLOR, ft_structure="75101")
            rng = random.Random(7)
            departements = ["59", "60", "75", "69", "13", "33", "35", "67", "31", "44", "2A"]
            romes = ["H2913", "N1103", "N4101", "J1501", "K1302", "F1703"]
            latencies, cpu = [], []
            queries = [
                {
                    "rome_code": rng.choice(romes),
                    "departement": rng.choice(departements),
                    "limit": "10",
                }
                for _ in range(suggestions)
            ]
            for params in queries[:10]:  # warm-up: compiled statements, caches
                await client.get("/v1/agencies/suggestions", params=params, headers=counsellor)
            for params in queries:
                started, cpu_started = time.perf_counter(), self_cpu_seconds()
                response = await client.get(
                    "/v1/agencies/suggestions", params=params, headers=counsellor
                )
                cpu.append((self_cpu_seconds() - cpu_started) * 1000)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    print(f"suggestion: {response.status_code} {response.text[:200]}")
                    return None
            latencies.sort()
            p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
            p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
            print(
                f"suggestion over {agencies} agencies ({suggestions} requests, in-process): "
                f"median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
                f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms; CPU per suggestion median "
                f"{statistics.median(cpu):.1f} ms (load average {load_average()})",
                flush=True,
            )
            return statistics.median(cpu)
    finally:
        await app.state.runtime.stop()


async def bench_directory_ratio(
    work: Path, agencies: int = 10_000, suggestions: int = 200, baseline: int = 100
) -> None:
    """:func:`bench_directory` at ``baseline`` agencies, then at ``agencies``, and the CPU per
    suggestion of the second against the first (the app's process: on PostgreSQL the server's
    own CPU is not in it)."""
    small = await bench_directory(work, baseline, suggestions) if baseline else None
    large = await bench_directory(work, agencies, suggestions)
    if small and large:
        print(
            f"suggestion CPU {agencies} vs {baseline} agencies: {large:.1f} / {small:.1f} ms = "
            f"×{large / small:.2f} (budget ×2; load average {load_average()})",
            flush=True,
        )


async def _main(args: argparse.Namespace) -> None:
    print(f"store: {store_kind()}")
    with tempfile.TemporaryDirectory(prefix="coop-bench-directory-") as tmp:
        await bench_directory_ratio(Path(tmp), args.agencies, args.suggestions, args.baseline)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__)
    parser.add_argument("--agencies", type=int, default=10_000)
    parser.add_argument("--suggestions", type=int, default=200)
    parser.add_argument(
        "--baseline", type=int, default=100, help="the small directory first (0: none)"
    )
    asyncio.run(_main(parser.parse_args()))

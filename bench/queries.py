"""The queries at 10,000 and 1,000,000 referrals (issue 14, item 7): ``python -m bench.queries``.

For each size, a fresh referral store (migrated) is filled in bulk — agencies, offers, job
seekers, referrals sent over the past year with their answers, transitions and dispositifs
events — then the indicators' aggregates are built (``rebuild``, timed) and each query is run
``--samples`` times through its use case: the referral list (a counsellor's structure, ops, ops
filtered by agency), a timeline, the indicators (ops: totals, by région, by month over a period;
a counsellor's; the schemes; one région, one network, one trade, answered by their group's
cells; one région by month, from the rows). It prints p50/p99 wall-clock and mean CPU per query
(``/proc``: the machine is shared), and the ratio of the largest size to the smallest. It stops
by itself: ``--budget`` seconds (a size that would not fit is skipped and said so).

``--store postgres`` (or ``STORE=postgres``) runs on PostgreSQL (``bench/pg.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

import referral
from referral.domain import PriorityPublic
from referral.domain.indicators import GroupBy, Rules
from referral.models import (
    Agency,
    JobOffer,
    JobSeeker,
    Referral,
    ReferralSchemeEvent,
    ReferralTransition,
)
from referral.use_cases.indicator_facts import fold
from referral.use_cases.indicators import (
    IndicatorFilters,
    measure_indicators,
    measure_scheme_indicators,
)
from referral.use_cases.queries import ReferralFilters, list_referrals, referral_with_timeline
from shared import referentials
from shared.auth.tokens import Principal, Role
from shared.db.database import Database
from shared.db.migrations import upgrade

MIGRATIONS = Path(referral.__file__).parent / "migrations"
RULES = Rules()
OPS = Principal("ops", Role.OPS)
NETWORKS = ("interim-nord", "travail-plus", "emploi-ouest", "reseau-sud")
STRUCTURES = tuple(f"{75100 + n}" for n in range(20))
#: CPU seconds per referral to seed (0.4 ms: the referral, its job seeker, transitions and
#: events) and to build its aggregates (3.2 ms: ~17 cells and ~94 delay rows upserted per
#: answered referral, SQLite's own work most of it), measured on this machine (load average
#: 5): a size whose estimate exceeds the budget left is skipped and said so.
SECONDS_PER_REFERRAL = 0.0036
#: Wall-clock seconds per referral to copy rows in SQL (``amplify``: 34 s for 990,000 on SQLite).
AMPLIFY_SECONDS_PER_REFERRAL = 0.00006
CHUNK = 20_000
_SOURCES = (None, None, "bmo", "regional_list")


# -- the store, filled in bulk ---------------------------------------------------------------


@dataclass
class Store:
    async_url: str
    sync_url: str
    size: int
    counsellor: Principal = field(default_factory=lambda: Principal("c", Role.COUNSELLOR))
    agency_id: str = ""
    region: str = ""
    trade: str = ""
    referral_ids: list[Any] = field(default_factory=list)


def _agencies(rng: random.Random) -> list[dict[str, Any]]:
    departements = list(referentials.departements())[:30]
    rows = []
    for n in range(40):
        departement = departements[n % len(departements)]
        rows.append(
            {
                "id": f"agc-bench-{n:02d}",
                "name": f"Agence {n}",
                "network_id": NETWORKS[n % len(NETWORKS)],
                "siret": f"{10_000_000_000_000 + n}",
                "departement": departement,
                "region": referentials.region_of(departement) or "11",
                "active": True,
            }
        )
    rng.shuffle(rows)
    return rows


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(connection: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` in one statement run many times: on SQLite straight through the driver's
    ``executemany`` (each value through its column type's bind processor, as SQLAlchemy would
    store it), elsewhere through SQLAlchemy's own bulk insert."""
    if not rows:
        return
    table = model.__table__ if hasattr(model, "__table__") else model
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), rows)
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    processors = [c.type._cached_bind_processor(dialect) for c in columns]
    names = ", ".join(f'"{c.name}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    # Names from the models, never from input; the values are bound.
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    keys = [c.name for c in columns]
    values = [
        tuple(
            p(r.get(k)) if p is not None else r.get(k)
            for k, p in zip(keys, processors, strict=True)
        )
        for r in rows
    ]
    connection.connection.driver_connection.executemany(statement, values)


def seed(store: Store, *, seed_value: int = 14) -> None:
    """``store.size`` referrals sent over the 365 days before today, with their job seekers
    (one each), answers (80 %), transitions (one per step) and dispositifs events (~12 %)."""
    rng = random.Random(seed_value)
    engine = create_engine(store.sync_url)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    trades = list(referentials.rome_metiers())[:60]
    agencies = _agencies(rng)
    offers = [
        {
            "id": uuid.uuid4(),
            "title": f"Offre {n}",
            "rome_code": trades[n % len(trades)],
            "departement": agencies[n % len(agencies)]["departement"],
            "region": agencies[n % len(agencies)]["region"],
            "contract_type": "cdi",
            "posts": 1,
            "hard_to_fill": (source := rng.choice([None, None, "bmo", "regional_list"]))
            is not None,
            "hard_to_fill_source": source,
            "created_by": "ops",
            "created_at": today - timedelta(days=400),
        }
        for n in range(500)
    ]
    with engine.begin() as connection:
        _bulk(connection, Agency, agencies)
        _bulk(connection, JobOffer, offers)
    store.agency_id = agencies[0]["id"]
    store.region = agencies[0]["region"]
    store.trade = trades[0]
    store.counsellor = Principal("c", Role.COUNSELLOR, ft_structure=STRUCTURES[0])

    def referrals() -> Iterator[dict[str, Any]]:
        for _ in range(store.size):
            agency = rng.choice(agencies)
            offer = rng.choice(offers) if rng.random() < 0.6 else None
            sent = today - timedelta(seconds=rng.randint(3600, 365 * 86400))
            row: dict[str, Any] = {
                "id": uuid.uuid4(),
                "job_seeker_id": uuid.uuid4(),
                "agency_id": agency["id"],
                "network_id": agency["network_id"],
                "offer_id": offer["id"] if offer else None,
                "rome_code": offer["rome_code"] if offer else rng.choice(trades),
                "departement": agency["departement"],
                "region": agency["region"],
                "message": "Bonjour",
                "status": "sent",
                "counsellor_id": "c",
                "structure_code": rng.choice(STRUCTURES),
                "created_at": sent,
                "updated_at": sent,
                **{f"public_{p.value}": rng.random() < 0.15 for p in PriorityPublic},
            }
            roll = rng.random()
            if roll >= 0.2:
                # Everything happened before today: no seeded row counts as recent activity.
                answered = min(sent + timedelta(seconds=rng.randint(600, 96 * 3600)), today)
                row["first_answer_at"] = row["updated_at"] = answered
                if roll < 0.45:
                    row.update(
                        status="declined", declined_at=answered, decline_reason="no_position"
                    )
                elif roll < 0.8:
                    row.update(status="accepted", accepted_at=answered)
                else:
                    row.update(
                        status="placed",
                        accepted_at=answered,
                        placed_at=answered,
                        placement_contract_type=rng.choice(["cdi", "cdd", "mission"]),
                        placement_start_date=answered.date(),
                        placement_expected_end_date=answered.date() + timedelta(days=200),
                    )
            yield row

    numbers = itertools.count()
    with engine.begin() as connection:
        for batch in _chunks(referrals()):
            _bulk(
                connection,
                JobSeeker,
                [
                    {
                        "id": r["job_seeker_id"],
                        # Seven digits of its own, three hex digits left for ``amplify``'s copies.
                        "ft_identifier": f"B{next(numbers):07d}000",
                        "first_name": "A",
                        "last_name": "B",
                        "structure_code": r["structure_code"],
                        "created_at": r["created_at"],
                    }
                    for r in batch
                ],
            )
            _bulk(connection, Referral, _complete(batch))
            _bulk(connection, ReferralTransition, list(_transitions(batch)))
            _bulk(connection, ReferralSchemeEvent, list(_scheme_events(rng, batch)))
            if len(store.referral_ids) < 1000:
                store.referral_ids += [r["id"] for r in batch[:1000]]
    engine.dispose()


_NULLABLE = (
    "first_answer_at",
    "accepted_at",
    "declined_at",
    "decline_reason",
    "placed_at",
    "placement_contract_type",
    "placement_start_date",
    "placement_expected_end_date",
)
_REFERRAL_DEFAULTS = {"identity_shared": False, "rqth_shared": False, **dict.fromkeys(_NULLABLE)}


def _complete(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with the same columns (one statement for all)."""
    return [{**_REFERRAL_DEFAULTS, **r} for r in batch]


def _transitions(batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for r in batch:
        common = {"referral_id": r["id"], "actor_id": "x", "comment": None}
        yield {
            **common,
            "from_status": None,
            "to_status": "sent",
            "action": "send",
            "actor": "counsellor",
            "occurred_at": r["created_at"],
            "recorded_at": r["created_at"],
        }
        if r["status"] != "sent":
            action = {"declined": "decline", "accepted": "accept", "placed": "start_placement"}
            yield {
                **common,
                "from_status": "sent",
                "to_status": r["status"],
                "action": action[r["status"]],
                "actor": "agency",
                "occurred_at": r["first_answer_at"],
                "recorded_at": r["first_answer_at"],
            }


def _scheme_events(rng: random.Random, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for r in batch:
        if rng.random() < 0.12:
            when = min(r["created_at"] + timedelta(days=2), r["created_at"].replace(hour=23))
            yield {
                "referral_id": r["id"],
                "event_id": uuid.uuid4().hex,
                "event_type": "coop.mrs.evaluated.v1",
                "scheme": "mrs",
                "scheme_ref": "s",
                "label": "MRS",
                "hired": rng.random() < 0.3,
                "data": {"positive": rng.random() < 0.6},
                "occurred_at": when,
                "recorded_at": when,
            }


#: The tables ``amplify`` copies, parents first, and their columns that take a copy's own value.
_COPIED: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (JobSeeker.__table__, ("id", "ft_identifier")),
    (Referral.__table__, ("id", "job_seeker_id")),
    (ReferralTransition.__table__, ("referral_id",)),
    (ReferralSchemeEvent.__table__, ("referral_id", "event_id")),
)


def _copied_value(column: str, dialect: str) -> str:
    """The SQL of ``column``'s value in copy ``copies.k``: an id keeps its first 24 hex digits and
    ends with the copy's number (uuid4's last 8 are random: no copy meets another row), a France
    Travail identifier ends with it (``seed`` leaves it three digits), an event id gets it as a
    suffix."""
    if column == "ft_identifier":
        suffix = (
            "printf('%03x', copies.k)" if dialect == "sqlite" else "lpad(to_hex(copies.k), 3, '0')"
        )
        return f"substr(ft_identifier, 1, 8) || {suffix}"
    if column == "event_id":
        return "event_id || '-' || CAST(copies.k AS TEXT)"
    if dialect == "sqlite":  # SQLAlchemy's Uuid: 32 hex digits
        return f"substr({column}, 1, 24) || printf('%08x', copies.k)"
    return (
        f"CAST(substr(replace(CAST({column} AS TEXT), '-', ''), 1, 24)"
        f" || lpad(to_hex(copies.k), 8, '0') AS UUID)"
    )


def amplify(store: Store, factor: int) -> None:
    """Make the store's rows ``factor`` times as many, in SQL (seconds where ``seed`` would take
    minutes): every job seeker, with its referrals, their transitions and dispositifs events,
    copied ``factor - 1`` times onto new ids. A copy keeps everything else (agency, structure,
    dates, answers), so a structure or an agency has ``factor`` times as many referrals: what the
    lists and the timeline read at a larger size. The indicators' aggregates are left as they
    were: built by the fold, they are not this function's (``run`` measures them only where the
    fold built them)."""
    if factor < 2:
        return
    engine = create_engine(store.sync_url)
    dialect = engine.dialect.name
    # Names from the models and an integer: nothing from input.
    copies = (
        f"(WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c"  # noqa: S608
        f" WHERE k < {factor - 1}) SELECT k FROM c) AS copies"
        if dialect == "sqlite"
        else f"generate_series(1, {factor - 1}) AS copies(k)"
    )
    with engine.begin() as connection:
        for table, remapped in _COPIED:
            columns = [
                c.name
                for c in table.columns
                if not (c.primary_key and c.name == "id" and "id" not in remapped)
            ]
            values = [
                _copied_value(c, dialect) if c in remapped else f"{table.name}.{c}" for c in columns
            ]
            # Names from the models and an integer: nothing from input.
            connection.execute(
                text(
                    f'INSERT INTO "{table.name}" ({", ".join(columns)})'  # noqa: S608
                    f' SELECT {", ".join(values)} FROM "{table.name}" CROSS JOIN {copies}'
                )
            )
        if dialect == "postgresql":  # as autovacuum would after so many rows
            for table, _ in _COPIED:
                connection.execute(text(f'ANALYZE "{table.name}"'))
    engine.dispose()
    store.size *= factor


# -- the queries -----------------------------------------------------------------------------------


Query = Callable[[Any, Store, random.Random], Awaitable[Any]]


def queries() -> dict[str, Query]:
    last_month = IndicatorFilters(period_from=date.today() - timedelta(days=30))

    async def counsellor_list(session: Any, store: Store, rng: random.Random) -> Any:
        return await list_referrals(
            session, store.counsellor, ReferralFilters(), cursor=None, limit=20
        )

    async def ops_list(session: Any, store: Store, rng: random.Random) -> Any:
        return await list_referrals(session, OPS, ReferralFilters(), cursor=None, limit=20)

    async def agency_list(session: Any, store: Store, rng: random.Random) -> Any:
        filters = ReferralFilters(agency_id=store.agency_id)
        return await list_referrals(session, OPS, filters, cursor=None, limit=20)

    async def timeline(session: Any, store: Store, rng: random.Random) -> Any:
        return await referral_with_timeline(session, OPS, rng.choice(store.referral_ids))

    async def indicators(session: Any, store: Store, rng: random.Random) -> Any:
        return await measure_indicators(session, OPS, IndicatorFilters(), RULES)

    async def by_region(session: Any, store: Store, rng: random.Random) -> Any:
        return await measure_indicators(session, OPS, IndicatorFilters(), RULES, GroupBy.REGION)

    async def by_month(session: Any, store: Store, rng: random.Random) -> Any:
        return await measure_indicators(session, OPS, last_month, RULES, GroupBy.MONTH)

    async def counsellor_indicators(session: Any, store: Store, rng: random.Random) -> Any:
        return await measure_indicators(session, store.counsellor, IndicatorFilters(), RULES)

    async def schemes(session: Any, store: Store, rng: random.Random) -> Any:
        return await measure_scheme_indicators(session, OPS, IndicatorFilters(), GroupBy.SCHEME)

    async def one_region(session: Any, store: Store, rng: random.Random) -> Any:
        filters = IndicatorFilters(region=store.region)
        return await measure_indicators(session, OPS, filters, RULES)

    async def one_network(session: Any, store: Store, rng: random.Random) -> Any:
        filters = IndicatorFilters(network_id=NETWORKS[0])
        return await measure_indicators(session, OPS, filters, RULES)

    async def one_trade(session: Any, store: Store, rng: random.Random) -> Any:
        filters = IndicatorFilters(rome_code=store.trade)
        return await measure_indicators(session, OPS, filters, RULES)

    async def region_by_month(session: Any, store: Store, rng: random.Random) -> Any:
        filters = IndicatorFilters(region=store.region)
        return await measure_indicators(session, OPS, filters, RULES, GroupBy.MONTH)

    return {
        "list, a counsellor's structure": counsellor_list,
        "list, ops": ops_list,
        "list, ops by agency": agency_list,
        "timeline": timeline,
        "indicators, ops total": indicators,
        "indicators, ops by région": by_region,
        "indicators, ops last 30 days by month": by_month,
        "indicators, a counsellor's": counsellor_indicators,
        "scheme indicators, ops by scheme": schemes,
        "indicators, ops one région": one_region,
        "indicators, ops one network": one_network,
        "indicators, ops one trade": one_trade,
        "indicators, ops one région by month (from the rows)": region_by_month,
    }


@dataclass
class Figures:
    p50_ms: float
    p99_ms: float
    cpu_ms: float


#: A query under ``CHEAP_MS`` (its first three samples) is sampled ``CHEAP_SAMPLES`` times.
CHEAP_MS, CHEAP_SAMPLES = 5.0, 300
#: Linear in the rows (seconds each at 1,000,000): fewer samples where ``amplify`` made the store.
LINEAR = "indicators, ops one région by month (from the rows)"


#: The queries that read the referrals' rows, not the aggregates: what ``amplify`` makes larger.
ROW_QUERIES = (
    "list, a counsellor's structure",
    "list, ops",
    "list, ops by agency",
    "timeline",
    LINEAR,
)


async def measure(
    store: Store, samples: int, only: tuple[str, ...] | None = None
) -> dict[str, Figures]:
    database = Database(store.async_url)
    rng = random.Random(1)
    results = {}
    try:
        for name, query in queries().items():
            if only is not None and name not in only:
                continue
            walls: list[float] = []
            cpus: list[float] = []
            wanted = min(samples, 5) if only is not None and name == LINEAR else samples
            while len(walls) < wanted:
                cpu, wall = time.process_time(), time.perf_counter()
                async with database.reading() as session:
                    await query(session, store, rng)
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
                if len(walls) == 3 and max(walls) < CHEAP_MS:
                    # A p99 of 30 samples is their maximum: one pause of the machine. A query
                    # of a few milliseconds gets enough samples for the p99 to be one.
                    wanted = max(wanted, CHEAP_SAMPLES)
            walls.sort()
            results[name] = Figures(
                p50_ms=statistics.median(walls),
                p99_ms=walls[min(len(walls) - 1, round(0.99 * (len(walls) - 1)))],
                cpu_ms=statistics.fmean(cpus),
            )
    finally:
        await database.dispose()
    return results


async def build_facts(store: Store) -> float:
    database = Database(store.async_url)
    try:
        started = time.perf_counter()
        await fold(database, RULES, rebuild=True)
        return time.perf_counter() - started
    finally:
        await database.dispose()


def explain(store: Store) -> list[str]:
    """The plan of the list and timeline statements (SQLite), to see they use an index."""
    engine = create_engine(store.sync_url)
    statements = {
        "list, a counsellor's structure": "SELECT id FROM referrals WHERE structure_code = '75100'"
        " ORDER BY created_at DESC, id DESC LIMIT 21",
        "list, ops by agency": "SELECT id FROM referrals WHERE agency_id = 'agc-bench-00'"
        " ORDER BY created_at DESC, id DESC LIMIT 21",
        "timeline": "SELECT id FROM referral_transitions WHERE referral_id = 'x' ORDER BY id",
    }
    lines = []
    with engine.connect() as connection:
        for name, statement in statements.items():
            plan = connection.execute(text(f"EXPLAIN QUERY PLAN {statement}")).all()
            lines.append(f"  {name}: " + "; ".join(str(row[-1]) for row in plan))
    engine.dispose()
    return lines


# -- the run ---------------------------------------------------------------------------------------


def new_store(work: Path, size: int, store_kind: str, admin_url: str | None) -> Store:
    """An empty, migrated referral store: a file under ``work``, or a database of its own on the
    PostgreSQL server of ``admin_url`` (``drop`` removes it)."""
    if store_kind == "postgres":
        assert admin_url is not None
        name = f"bench_queries_{size}_{uuid.uuid4().hex[:6]}"
        _admin(admin_url, f'CREATE DATABASE "{name}"')
        base = admin_url.rsplit("/", 1)[0]
        async_url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")
        sync_url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")
    else:
        path = work / f"referral-{size}.db"
        async_url, sync_url = f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}"
    upgrade(MIGRATIONS, async_url)
    return Store(async_url, sync_url, size)


def drop(store: Store, admin_url: str | None) -> None:
    """Remove a PostgreSQL store (a SQLite one goes with its folder)."""
    if admin_url is not None and store.sync_url.startswith("postgresql"):
        _admin(
            admin_url, f'DROP DATABASE IF EXISTS "{store.sync_url.rsplit("/", 1)[1]}" WITH (FORCE)'
        )


def _admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))
    engine.dispose()


def run(
    sizes: list[int],
    samples: int,
    budget: float,
    store_kind: str,
    amplified: tuple[int, ...] = (),
) -> int:
    """Each of ``sizes`` seeded and folded, every query measured; then, for each of
    ``amplified``, the last store's rows copied up to that size (``amplify``) and the row queries
    measured again (the aggregates are the fold's: a larger size of them needs a real fold, which
    ``sizes`` gives)."""
    started = time.monotonic()
    table: dict[int, dict[str, Figures]] = {}
    last: Store | None = None
    stores: list[Store] = []
    with tempfile.TemporaryDirectory(prefix="bench-queries-") as tmp:
        work = Path(tmp)
        admin_url = None
        pg = None
        if store_kind == "postgres":
            from bench.pg import postgres_store

            try:
                import psycopg  # noqa: F401  (the bulk seeding's synchronous driver)
            except ImportError:
                raise SystemExit(
                    "--store postgres: the bulk seeding needs the psycopg driver"
                    " (`make install` installs it)"
                ) from None

            pg = postgres_store(work)
            admin_url = pg.__enter__()
        try:
            for size in sizes:
                left = budget - (time.monotonic() - started)
                needed = size * SECONDS_PER_REFERRAL
                if needed > left:
                    print(
                        f"{size} referrals: skipped (≈{needed:.0f} s of CPU to seed and build the"
                        f" aggregates, {left:.0f} s left)"
                    )
                    continue
                store = new_store(work, size, store_kind, admin_url)
                stores.append(store)
                t0, c0 = time.perf_counter(), time.process_time()
                seed(store)
                seeded, seed_cpu = time.perf_counter() - t0, time.process_time() - c0
                c0 = time.process_time()
                rebuilt = asyncio.run(build_facts(store))
                rebuild_cpu = time.process_time() - c0
                print(
                    f"{size} referrals: seeded in {seeded:.0f} s ({seed_cpu:.0f} s CPU), "
                    f"aggregates built in {rebuilt:.0f} s ({rebuild_cpu:.0f} s CPU) "
                    f"(load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                if store_kind == "sqlite":
                    print("\n".join(explain(store)))
                table[size] = asyncio.run(measure(store, samples))
                last = store
            for size in amplified:
                left = budget - (time.monotonic() - started)
                if last is None or size % last.size or size <= last.size:
                    print(f"{size} referrals: skipped (not a multiple of the last size measured)")
                    continue
                needed = size * AMPLIFY_SECONDS_PER_REFERRAL
                if needed > left:
                    print(f"{size} referrals: skipped (≈{needed:.0f} s to copy, {left:.0f} s left)")
                    continue
                factor = size // last.size
                t0, c0 = time.perf_counter(), time.process_time()
                amplify(last, factor)
                print(
                    f"{size} referrals: the {size // factor:,} copied ×{factor} in"
                    f" {time.perf_counter() - t0:.0f} s ({time.process_time() - c0:.0f} s CPU here;"
                    " the rows only, the aggregates stay the fold's)",
                    flush=True,
                )
                table[size] = asyncio.run(measure(last, samples, only=ROW_QUERIES))
        finally:
            for store in stores:
                drop(store, admin_url)
            if pg is not None:
                pg.__exit__(None, None, None)
    _print(table)
    return 0


def _print(table: dict[int, dict[str, Figures]]) -> None:
    sizes = sorted(table)
    if not sizes:
        return
    header = "| query | " + " | ".join(f"{s:,} p50 / p99 ms (CPU ms)" for s in sizes)
    if len(sizes) > 1:
        header += f" | p99 {sizes[-1]:,} / {sizes[0]:,}"
    print(header + " |")
    print("|---" * (len(sizes) + 1 + (len(sizes) > 1)) + "|")
    for name in table[sizes[0]]:
        figures = [table[s].get(name) for s in sizes]
        cells = [
            f"{f.p50_ms:.1f} / {f.p99_ms:.1f} ({f.cpu_ms:.1f})" if f else "not measured"
            for f in figures
        ]
        if len(sizes) > 1:
            first, largest = figures[0], figures[-1]
            cells.append(f"{largest.p99_ms / first.p99_ms:.2f}" if first and largest else "")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queries", description=__doc__)
    parser.add_argument("--sizes", default="10000,1000000", help="referrals, comma-separated")
    parser.add_argument(
        "--amplify",
        default="",
        help="larger sizes copied from the last store's rows (row queries only), comma-separated",
    )
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--budget", type=float, default=900, help="seconds, then it stops")
    parser.add_argument(
        "--store", choices=("sqlite", "postgres"), default=os.environ.get("STORE", "sqlite")
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    amplified = tuple(int(s) for s in args.amplify.split(",") if s)
    return run(sizes, args.samples, args.budget, args.store, amplified)


if __name__ == "__main__":
    sys.exit(main())

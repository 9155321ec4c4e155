"""The indicators' maintained aggregates (issue 14, item 7) give the figures the rows give: over a
varied store (three months, every agency of the demo, trades, publics, answers, declines by
reason, placements, schemes, offers hard to fill or not), for every grouping, whole and partial
months, every scope; before the first fold, after it, with activity since, after a second fold;
a fold run twice counts once; a referral gone from the store keeps its past figures."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import delete, func, insert, select, update

from referral.domain import PriorityPublic, Scheme
from referral.domain.indicators import GroupBy, Rules, compute, measure_schemes
from referral.models import (
    Agency,
    JobOffer,
    JobSeeker,
    Referral,
    ReferralSchemeEvent,
    indicator_cells,
    indicator_marks,
)
from referral.use_cases.indicator_facts import fold, read_aggregates
from referral.use_cases.indicators import (
    IndicatorFilters,
    indicator_facts,
    measure_indicators,
    measure_scheme_indicators,
)
from shared import referentials
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import ContractType, DeclineReason
from shared.db.database import Database

RULES = Rules()
OPS = Principal("ops", Role.OPS)
STEERING = Principal("copil", Role.STEERING)
STRUCTURES = ("75101", "59001", "69002", None)
TRADES = ("H2913", "N4101", "K2204", "M1607", "D1106")
SCHEME_EVENTS = (
    ("coop.immersion.validated.v1", Scheme.IMMERSION, {}),
    ("coop.immersion.completed.v1", Scheme.IMMERSION, {}),
    ("coop.mrs.evaluated.v1", Scheme.MRS, {"positive": True}),
    ("coop.mrs.evaluated.v1", Scheme.MRS, {"positive": False}),
    ("coop.training.enrolled.v1", Scheme.POEI, {}),
    ("coop.training.completed.v1", Scheme.POEC, {"completed": True}),
)


def _counsellor(structure: str) -> Principal:
    return Principal("conseiller", Role.COUNSELLOR, ft_structure=structure)


async def _seed(database: Database, rng: random.Random, count: int, start: datetime) -> list[Any]:
    """``count`` referrals sent over 100 days from ``start``, with what happened to them."""
    async with database.transaction() as session:
        agencies = (await session.execute(select(Agency.id, Agency.network_id))).all()
        offers = []
        for n, source in enumerate((None, "bmo", "regional_list", "offer_flag")):
            offer_id = uuid.uuid4()
            offers.append(offer_id)
            await session.execute(
                insert(JobOffer).values(
                    id=offer_id,
                    title=f"Offre {n}",
                    rome_code=TRADES[n],
                    departement="59",
                    region="32",
                    contract_type="cdi",
                    posts=1,
                    hard_to_fill=source is not None,
                    hard_to_fill_source=source,
                    created_by="ops",
                    created_at=start,
                )
            )
        ids = []
        for _ in range(count):
            seeker = uuid.uuid4()
            await session.execute(
                insert(JobSeeker).values(
                    id=seeker,
                    ft_identifier=f"T{uuid.uuid4().hex[:10]}",
                    first_name="A",
                    last_name="B",
                    created_at=start,
                )
            )
            agency, network = rng.choice(agencies)
            sent = start + timedelta(days=rng.uniform(0, 100))
            values: dict[str, Any] = {
                "id": uuid.uuid4(),
                "job_seeker_id": seeker,
                "agency_id": agency,
                "network_id": network,
                "offer_id": rng.choice([None, None, *offers]),
                "rome_code": rng.choice(TRADES),
                "departement": rng.choice(["59", "62", "69", "35", None]),
                "region": rng.choice(["32", "84", "53", None]),
                "message": "Bonjour",
                "status": "sent",
                "counsellor_id": "conseiller",
                "structure_code": rng.choice(STRUCTURES),
                "created_at": sent,
                # Recorded now (as the sending path does), whatever the sending day.
                "updated_at": datetime.now(UTC),
            }
            for public in PriorityPublic:
                values[f"public_{public.value}"] = rng.random() < 0.2
            _outcome(rng, values, sent)
            await session.execute(insert(Referral).values(**values))
            ids.append(values["id"])
            await _schemes(session, rng, values["id"], sent)
    return ids


def _outcome(rng: random.Random, values: dict[str, Any], sent: datetime) -> None:
    roll = rng.random()
    if roll < 0.2:
        return
    values["first_answer_at"] = sent + timedelta(seconds=rng.randint(60, 120 * 3600))
    if roll < 0.45:
        values["status"] = "declined"
        values["declined_at"] = values["first_answer_at"]
        values["decline_reason"] = rng.choice([None, *(r.value for r in DeclineReason)])
    elif roll < 0.55:
        values["status"] = "no_news"
    elif roll < 0.8:
        values["status"] = "accepted"
        values["accepted_at"] = values["first_answer_at"]
    else:
        values["status"] = "placed"
        values["placed_at"] = values["first_answer_at"] + timedelta(days=2)
        values["placement_contract_type"] = rng.choice([c.value for c in ContractType])
        values["placement_start_date"] = values["placed_at"].date()
        values["placement_expected_end_date"] = values["placed_at"].date() + timedelta(
            days=rng.choice([30, 200, 400])
        )


async def _schemes(session: Any, rng: random.Random, referral_id: Any, sent: datetime) -> None:
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        event_type, scheme, data = rng.choice(SCHEME_EVENTS)
        await session.execute(
            insert(ReferralSchemeEvent).values(
                referral_id=referral_id,
                event_id=str(uuid.uuid4()),
                event_type=event_type,
                scheme=scheme.value,
                scheme_ref="ref",
                label=event_type,
                hired=rng.choice([None, True, False]),
                data=data,
                occurred_at=sent + timedelta(days=3),
                recorded_at=datetime.now(UTC),
            )
        )


def _same(aggregated: Any, expected: Any, path: str = "") -> None:
    """Equal, but for the median delay, kept in whole minutes: within half a minute (0.0083 h)
    plus the rounding to 2 decimals."""
    if isinstance(expected, dict):
        assert set(aggregated) == set(expected), path
        for key in expected:
            _same(aggregated[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(aggregated) == len(expected), path
        for n, (a, e) in enumerate(zip(aggregated, expected, strict=True)):
            _same(a, e, f"{path}[{n}]")
    elif path.endswith("median_hours_to_first_answer") and expected is not None:
        assert aggregated is not None, path
        assert abs(aggregated - expected) <= 0.0184, path
    else:
        assert aggregated == expected, (path, aggregated, expected)


def _periods(start: date) -> list[tuple[date | None, date | None]]:
    first_month = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    last_of_second = (first_month.replace(day=28) + timedelta(days=35)).replace(day=1) - timedelta(
        days=1
    )
    return [
        (None, None),
        (start + timedelta(days=10), None),
        (None, start + timedelta(days=40)),
        (first_month, last_of_second),  # two whole months
        (first_month - timedelta(days=3), last_of_second + timedelta(days=5)),
        (start + timedelta(days=12), start + timedelta(days=20)),  # inside one month
        (start + timedelta(days=200), None),  # nothing
    ]


async def _check(database: Database, start: date, *, folded: bool) -> None:
    """Every grouping over the whole store for ops; for each period and scope, the groupings
    that partition, overlap, and the month."""
    some: list[GroupBy | None] = [None, GroupBy.REGION, GroupBy.PRIORITY_PUBLIC, GroupBy.MONTH]
    cases = [(OPS, (None, None), [None, *GroupBy])]
    for principal in (OPS, STEERING, _counsellor("75101"), _counsellor("00000")):
        cases += [(principal, period, some) for period in _periods(start)[1:]]
    async with database.reading() as session:
        for principal, (first, last), groupings in cases:
            filters = IndicatorFilters(period_from=first, period_to=last)
            facts = await indicator_facts(session, principal, filters)
            for group_by in groupings:
                aggregated = await read_aggregates(session, principal, filters, RULES, group_by)
                assert aggregated is not None
                _same(aggregated.indicators(), compute(facts, RULES, group_by))
            total = await read_aggregates(session, principal, filters, None, GroupBy.SCHEME)
            assert total is not None
            assert total.schemes()["total"] == measure_schemes(facts)
        # Through the use cases: the same figures, whichever path answers.
        filters = IndicatorFilters(period_from=start + timedelta(days=5))
        via = await measure_indicators(session, OPS, filters, RULES, GroupBy.REGION)
        facts = await indicator_facts(session, OPS, filters)
        _same(via, compute(facts, RULES, GroupBy.REGION))
        schemes = await measure_scheme_indicators(session, OPS, filters, GroupBy.SCHEME)
        assert schemes["total"] == measure_schemes(facts)
        cells = await session.scalar(select(func.count()).select_from(indicator_cells))
        assert (cells > 0) is folded


async def test_the_aggregates_give_the_figures_of_the_rows(app: FastAPI) -> None:
    database = app.state.runtime.database
    rng = random.Random(14)
    start = datetime(2026, 1, 17, 9, 30, tzinfo=UTC)
    ids = await _seed(database, rng, 120, start)

    await _check(database, start.date(), folded=False)  # never folded: all from the rows
    assert await fold(database, RULES) == 120
    await _check(database, start.date(), folded=True)

    # Activity after the fold: answers, a scheme event, new referrals; read before any fold.
    now = datetime.now(UTC)
    async with database.transaction() as session:
        for referral_id in ids[:20]:
            await session.execute(
                update(Referral)
                .where(Referral.id == referral_id)
                .values(
                    status="declined",
                    first_answer_at=start + timedelta(hours=3),
                    declined_at=start + timedelta(hours=3),
                    decline_reason="no_position",
                    accepted_at=None,
                    placed_at=None,
                    updated_at=now,
                )
            )
        await _schemes(session, random.Random(1), ids[30], start)
    await _seed(database, rng, 15, start)
    await _check(database, start.date(), folded=True)

    assert await fold(database, RULES) > 0
    await _check(database, start.date(), folded=True)
    async with database.reading() as session:
        before = sorted(map(tuple, (await session.execute(select(indicator_cells))).all()))
    # Folding again (a restart, a redelivery) counts nothing twice.
    assert await fold(database, RULES) == 0
    async with database.reading() as session:
        after = sorted(map(tuple, (await session.execute(select(indicator_cells))).all()))
    assert after == before
    # A rebuild from the rows gives the same cells' totals.
    assert await fold(database, RULES, rebuild=True) == 135
    await _check(database, start.date(), folded=True)


async def test_a_referral_gone_from_the_store_keeps_its_past_figures(app: FastAPI) -> None:
    database = app.state.runtime.database
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    ids = await _seed(database, random.Random(7), 12, start)
    await fold(database, RULES)
    async with database.reading() as session:
        before = await measure_indicators(session, OPS, IndicatorFilters(), RULES, GroupBy.REGION)
    async with database.transaction() as session:
        await session.execute(
            delete(ReferralSchemeEvent).where(ReferralSchemeEvent.referral_id == ids[0])
        )
        await session.execute(delete(Referral).where(Referral.id == ids[0]))
    await fold(database, RULES)
    async with database.reading() as session:
        after = await measure_indicators(session, OPS, IndicatorFilters(), RULES, GroupBy.REGION)
        marks = await session.scalar(select(func.count()).select_from(indicator_marks))
    assert after == before
    assert before["total"]["referrals_sent"] == 12
    assert marks == 12


async def test_other_rules_or_filters_are_computed_from_the_rows(app: FastAPI) -> None:
    database = app.state.runtime.database
    await _seed(database, random.Random(3), 10, datetime(2026, 2, 1, tzinfo=UTC))
    await fold(database, RULES)
    async with database.reading() as session:
        other = Rules(acknowledgement_hours=12)
        assert await read_aggregates(session, OPS, IndicatorFilters(), other, None) is None
        region = IndicatorFilters(region="32")
        # One filter with a grouping, or two filters: the cells have one dimension at a time.
        assert await read_aggregates(session, OPS, region, RULES, GroupBy.AGENCY) is None
        two = IndicatorFilters(region="32", rome_code="H2913")
        assert await read_aggregates(session, OPS, two, RULES, None) is None
        facts = await indicator_facts(session, OPS, IndicatorFilters())
        via = await measure_indicators(session, OPS, IndicatorFilters(), other, GroupBy.AGENCY)
    assert via == compute(facts, other, GroupBy.AGENCY)
    # The job folds with the rules in force: other rules rebuild the cells.
    assert await fold(database, Rules(acknowledgement_hours=12)) == 10


async def test_one_filter_is_answered_by_its_group_cells_with_the_rows_figures(
    app: FastAPI,
) -> None:
    """A région, a département, a network, an agency, a trade, a sector, a public, a scheme or a
    hard-to-fill value alone (and a period): the totals are that group's cells, the same figures
    as the rows, for ops and a counsellor, folded and with activity since the fold."""
    database = app.state.runtime.database
    start = datetime(2026, 1, 17, 9, 30, tzinfo=UTC)
    ids = await _seed(database, random.Random(21), 80, start)
    async with database.reading() as session:
        agency = await session.scalar(select(Referral.agency_id).limit(1))
        network = await session.scalar(select(Referral.network_id).limit(1))
    sector = referentials.rome_sectors("H2913")[0].code
    filters = [
        IndicatorFilters(region="32"),
        IndicatorFilters(departement="59"),
        IndicatorFilters(network_id=network),
        IndicatorFilters(agency_id=agency),
        IndicatorFilters(rome_code="N4101"),
        IndicatorFilters(sector=sector),
        IndicatorFilters(priority_public=PriorityPublic.BRSA),
        IndicatorFilters(scheme=Scheme.MRS),
        IndicatorFilters(hard_to_fill="bmo"),
        IndicatorFilters(hard_to_fill="non"),
        IndicatorFilters(hard_to_fill="sans_offre"),
        IndicatorFilters(region="84", period_from=start.date() + timedelta(days=12)),
        IndicatorFilters(network_id=network, period_to=start.date() + timedelta(days=50)),
    ]

    async def check() -> None:
        async with database.reading() as session:
            for principal in (OPS, _counsellor("75101")):
                for one in filters:
                    aggregated = await read_aggregates(session, principal, one, RULES, None)
                    assert aggregated is not None, one
                    facts = await indicator_facts(session, principal, one)
                    _same(aggregated.indicators(), compute(facts, RULES), str(one))
                    assert aggregated.schemes()["total"] == measure_schemes(facts), one
                    via = await measure_indicators(session, principal, one, RULES)
                    _same(via, compute(facts, RULES), str(one))

    await fold(database, RULES)
    await check()
    async with database.transaction() as session:
        await session.execute(
            update(Referral)
            .where(Referral.id.in_(ids[:10]))
            .values(status="no_news", updated_at=datetime.now(UTC))
        )
    await _seed(database, random.Random(22), 10, start)
    await check()  # the activity since the fold, added in memory


async def test_the_periodic_fold_commits_chunk_by_chunk_and_a_stopped_fold_is_finished_later(
    app: FastAPI, monkeypatch: Any
) -> None:
    """The periodic fold writes one short transaction per ``CHUNK`` touched referrals (so a
    burst does not hold SQLite's write lock or the event loop for the whole fold): a fold that
    fails after two chunks keeps those two chunks' cells and marks, every figure read meanwhile
    is still the rows' own, and the next fold finishes the rest and counts nothing twice."""
    from referral.use_cases import indicator_facts

    database = app.state.runtime.database
    rng = random.Random(21)
    start = datetime(2026, 2, 3, 10, tzinfo=UTC)
    first = await _seed(database, rng, 40, start)
    assert await fold(database, RULES) == 40  # the first fold: a rebuild, one transaction
    ids = await _seed(database, rng, 50, start)  # 50 more; the 40 are in the overlap, unchanged
    # The fold pages the touched referrals by id: its first two chunks re-count these.
    in_two_chunks = [i for i in sorted([*first, *ids])[:24] if i in set(ids)]
    monkeypatch.setattr(indicator_facts, "CHUNK", 12)
    applied = 0
    apply = indicator_facts._apply

    async def failing_after_two(session: Any, delta: Any, marks: Any) -> None:
        nonlocal applied
        if applied == 2:
            raise RuntimeError("le pli s'arrête ici")
        applied += 1
        await apply(session, delta, marks)

    monkeypatch.setattr(indicator_facts, "_apply", failing_after_two)
    try:
        await fold(database, RULES)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the fold should have stopped at its third chunk")
    async with database.reading() as session:
        marked = await session.scalar(
            select(func.count())
            .select_from(indicator_marks)
            .where(indicator_marks.c.referral_id.in_(ids))
        )
    assert marked == len(in_two_chunks) > 0  # two chunks committed, the third rolled back
    await _check(database, start.date(), folded=True)

    monkeypatch.setattr(indicator_facts, "_apply", apply)
    # The stopped fold did not move the state: the next one finds the rest (and re-reads the
    # first two chunks' referrals, already counted: their marks make them count once).
    assert await fold(database, RULES) == 50 - len(in_two_chunks)
    await _check(database, start.date(), folded=True)
    assert await fold(database, RULES) == 0


async def test_the_rebuild_facts_command_counts_the_store_again(
    app: FastAPI, referral_settings: Any
) -> None:
    """``python -m referral rebuild-facts``, a real process on the service's store: every
    referral counted again from the rows, the figures the rows give, said in French."""
    import asyncio
    import os
    import sys

    database = app.state.runtime.database
    start = datetime(2026, 4, 6, 9, tzinfo=UTC)
    await _seed(database, random.Random(5), 30, start)
    async with database.reading() as session:
        referrals = await session.scalar(select(func.count()).select_from(Referral))
    env = {**os.environ, "REFERRAL_DATABASE_URL": referral_settings.database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "referral",
        "rebuild-facts",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip() == (
        f"coop-referral : {referrals} signalements comptés dans les agrégats"
    )
    await _check(database, start.date(), folded=True)


async def test_the_job_s_memory_loads_again_only_the_referrals_that_moved_in_the_overlap(
    app: FastAPI, monkeypatch: Any
) -> None:
    """The periodic fold re-reads the last ``OVERLAP`` of activity (for transactions committed
    late). With the job's memory of the stamps it counted, a referral unchanged since is not
    loaded again; one that moved — updated, or given a dispositifs event committed late with an
    earlier time — is, and every figure stays the rows' own."""
    from referral.use_cases import indicator_facts

    database = app.state.runtime.database
    rng = random.Random(33)
    start = datetime(2026, 4, 6, 9, tzinfo=UTC)
    ids = await _seed(database, rng, 30, start)
    memory = indicator_facts.FoldMemory()
    assert await fold(database, RULES, memory=memory) == 30  # the first fold: a rebuild
    loaded: list[Any] = []
    changes = indicator_facts._changes

    async def recording(session: Any, chunk: list[Any], rules: Rules, into: Any = None) -> Any:
        loaded.extend(chunk)
        return await changes(session, chunk, rules, into)

    monkeypatch.setattr(indicator_facts, "_changes", recording)
    more = await _seed(database, rng, 10, start)
    assert await fold(database, RULES, memory=memory) == 10
    assert set(loaded) == {*ids, *more}  # nothing remembered after a rebuild: all re-read once

    loaded.clear()
    assert await fold(database, RULES, memory=memory) == 0
    assert loaded == []  # all 40 in the overlap, none moved: none loaded

    async with database.transaction() as session:
        await session.execute(
            update(Referral)
            .where(Referral.id == ids[0])
            .values(
                status="accepted",
                first_answer_at=start + timedelta(hours=2),
                accepted_at=start + timedelta(hours=2),
                declined_at=None,
                decline_reason=None,
                placed_at=None,
                updated_at=datetime.now(UTC),
            )
        )
        await session.execute(
            insert(ReferralSchemeEvent).values(
                referral_id=more[0],
                event_id=str(uuid.uuid4()),
                event_type="coop.training.enrolled.v1",
                scheme=Scheme.POEI.value,
                scheme_ref="late",
                label="entrée en formation",
                data={},
                occurred_at=start,
                # Committed after the last fold began, with an earlier time.
                recorded_at=datetime.now(UTC) - timedelta(seconds=20),
            )
        )
    await _check(database, start.date(), folded=True)  # read before the fold: still current
    loaded.clear()  # (a read adds what the fold has not counted yet: through _changes too)
    assert await fold(database, RULES, memory=memory) == 2
    assert sorted(loaded) == sorted([ids[0], more[0]])
    await _check(database, start.date(), folded=True)

    # Without the memory (another process's first fold), every touched referral is read again.
    loaded.clear()  # (the reads of the check above)
    assert await fold(database, RULES) == 0
    assert set(loaded) == {*ids, *more}

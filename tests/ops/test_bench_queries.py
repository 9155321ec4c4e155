"""``python -m bench.queries`` at a tiny size, so it cannot rot: a real store filled in bulk, the
aggregates built, every query measured and printed (timings are printed, never asserted)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench import queries
from referral.use_cases.queries import ReferralFilters, list_referrals, referral_with_timeline
from shared.db.database import Database
from shared.testing import POSTGRES_ENV, store_kind


def test_the_query_bench_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert queries.main(["--sizes", "150,300", "--samples", "2", "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "150 referrals: seeded" in out
    assert "ix_referrals_agency_created" in out  # the list by agency uses its index
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| query | 150 p50")
    assert len(rows) == 1 + len(queries.queries())
    assert all(line.count("|") == 5 for line in rows[1:])  # name, two sizes, the ratio


def _kind() -> str:
    return "postgres" if store_kind() == "postgresql" else "sqlite"


def test_the_copied_rows_make_a_store_the_service_reads_like_a_seeded_one(tmp_path: Path) -> None:
    """``amplify`` on the pass's store kind: every row copied onto ids of its own (the primary
    and unique keys would refuse a clash), each copy with its job seeker, transitions and events,
    the lists and a timeline read through their use cases."""
    admin = os.environ.get(POSTGRES_ENV)
    store = queries.new_store(tmp_path, 120, _kind(), admin)
    try:
        queries.seed(store)
        engine = create_engine(store.sync_url)
        counts = (
            "SELECT (SELECT count(*) FROM job_seekers), (SELECT count(*) FROM referrals),"
            " (SELECT count(*) FROM referral_transitions),"
            " (SELECT count(*) FROM referral_scheme_events)"
        )
        with engine.connect() as connection:
            before = connection.execute(text(counts)).one()
        queries.amplify(store, 4)
        assert store.size == 480
        with engine.connect() as connection:
            after = connection.execute(text(counts)).one()
            # Each copy of a referral has its own job seeker and as many transitions.
            orphans = connection.execute(
                text(
                    "SELECT count(*) FROM referrals r LEFT JOIN job_seekers j"
                    " ON j.id = r.job_seeker_id WHERE j.id IS NULL"
                )
            ).scalar()
            shared_seekers = connection.execute(
                text(
                    "SELECT count(*) FROM (SELECT job_seeker_id FROM referrals"
                    " GROUP BY job_seeker_id HAVING count(*) > 1) AS s"
                )
            ).scalar()
            uneven = connection.execute(
                text(
                    "SELECT count(*) FROM (SELECT r.id FROM referrals r"
                    " LEFT JOIN referral_transitions t ON t.referral_id = r.id"
                    " GROUP BY r.id HAVING count(t.id) NOT IN (1, 2)) AS u"
                )
            ).scalar()
        engine.dispose()
        assert tuple(after) == tuple(4 * n for n in before)
        assert before[1] == 120
        assert (orphans, shared_seekers, uneven) == (0, 0, 0)

        async def read() -> tuple[int, int, int]:
            database = Database(store.async_url)
            try:
                async with database.reading() as session:
                    mine = await list_referrals(
                        session, store.counsellor, ReferralFilters(), cursor=None, limit=500
                    )
                    everything = await list_referrals(
                        session, queries.OPS, ReferralFilters(), cursor=None, limit=500
                    )
                    timeline = await referral_with_timeline(
                        session, queries.OPS, store.referral_ids[0]
                    )
            finally:
                await database.dispose()
            return len(mine.items), len(everything.items), len(timeline)

        mine, everything, entries = asyncio.run(read())
        assert everything == 480
        assert mine % 4 == 0
        assert 0 < mine < 480
        assert entries >= 1  # sent, then its answer and MRS events if any
    finally:
        queries.drop(store, admin)


def test_the_bench_measures_the_row_queries_again_on_the_copied_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--store", _kind(), "--sizes", "150", "--amplify", "600", "--samples", "2"]
    assert queries.main([*argv, "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "600 referrals: the 150 copied ×4" in out
    rows = {line.split(" | ")[0][2:]: line for line in out.splitlines() if line.startswith("| ")}
    for name in queries.queries():
        measured_again = "not measured" not in rows[name]
        assert measured_again == (name in queries.ROW_QUERIES), name

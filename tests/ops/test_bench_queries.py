"""``python -m bench.queries`` at a tiny size, so it cannot rot: a real store filled in bulk, the
aggregates built, every query measured and printed (timings are printed, never asserted)."""

from __future__ import annotations

import pytest

from bench import queries


def test_the_query_bench_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert queries.main(["--sizes", "150,300", "--samples", "2", "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "150 referrals: seeded" in out
    assert "ix_referrals_agency_created" in out  # the list by agency uses its index
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| query | 150 p50")
    assert len(rows) == 1 + len(queries.queries())
    assert all(line.count("|") == 5 for line in rows[1:])  # name, two sizes, the ratio

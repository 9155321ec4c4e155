"""Indicator tables with small counts hidden and no hidden count recoverable from the totals
(issue 11, item 6). The checks here do not trust the module: they rebuild what a reader of the
published table could compute (subtraction on one line, any linear combination of lines, and the
non-negative integer solutions) and compare."""

from __future__ import annotations

import csv
import io
import itertools
import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.privacy import statistical_secrecy
from shared.privacy.statistical_secrecy import (
    DEFAULT_SECRECY_THRESHOLD,
    SECRET_MARK,
    ProtectedTable,
    Suppression,
    disclosed_cells,
    protect_counts,
    protect_table,
    rate_is_secret,
)

#: RQTH referrals per département (rows) and month (columns): one cell of 1.
FIXTURE = [
    [1, 12, 30, 7],
    [20, 15, 9, 40],
    [8, 0, 25, 11],
]
ROWS = ["59", "62", "80"]
COLUMNS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def full_grid(counts: list[list[int]]) -> list[list[int]]:
    body = [[*line, sum(line)] for line in counts]
    totals = [sum(col) for col in zip(*counts, strict=True)]
    return [*body, [*totals, sum(totals)]]


def published_grid(table: ProtectedTable) -> list[list[int | None]]:
    return [[cell.value for cell in line] for line in table.grid()]


def equations(n_rows: int, n_columns: int) -> list[list[tuple[tuple[int, int], int]]]:
    """Each line of the grid with margins says: cells - total = 0 (coefficients)."""
    lines = []
    for i in range(n_rows + 1):
        lines.append([((i, j), 1 if j < n_columns else -1) for j in range(n_columns + 1)])
    for j in range(n_columns + 1):
        lines.append([((i, j), 1 if i < n_rows else -1) for i in range(n_rows + 1)])
    return lines


def recoverable_by_one_subtraction(grid: list[list[int | None]]) -> set[tuple[int, int]]:
    n_rows, n_columns = len(grid) - 1, len(grid[0]) - 1
    found = set()
    for line in equations(n_rows, n_columns):
        hidden = [p for p, _ in line if grid[p[0]][p[1]] is None]
        if len(hidden) == 1:
            found.add(hidden[0])
    return found


def determined_by_linear_algebra(grid: list[list[int | None]]) -> set[tuple[int, int]]:
    """Hidden cells whose value every solution of the published equations shares: cell k is
    determined iff the unit vector e_k lies in the row space of the system (exact fractions)."""
    n_rows, n_columns = len(grid) - 1, len(grid[0]) - 1
    hidden = sorted(
        (i, j) for i in range(n_rows + 1) for j in range(n_columns + 1) if grid[i][j] is None
    )
    index = {p: k for k, p in enumerate(hidden)}
    matrix = []
    for line in equations(n_rows, n_columns):
        row = [Fraction(0)] * len(hidden)
        for p, coefficient in line:
            if p in index:
                row[index[p]] = Fraction(coefficient)
        matrix.append(row)

    def rank(rows: list[list[Fraction]]) -> int:
        rows = [r[:] for r in rows]
        r = 0
        for c in range(len(hidden)):
            pivot = next((k for k in range(r, len(rows)) if rows[k][c] != 0), None)
            if pivot is None:
                continue
            rows[r], rows[pivot] = rows[pivot], rows[r]
            for k in range(len(rows)):
                if k != r and rows[k][c] != 0:
                    factor = rows[k][c] / rows[r][c]
                    rows[k] = [a - factor * b for a, b in zip(rows[k], rows[r], strict=True)]
            r += 1
        return r

    base = rank(matrix)
    determined = set()
    for p, k in index.items():
        unit = [Fraction(int(m == k)) for m in range(len(hidden))]
        if rank([*matrix, unit]) == base:
            determined.add(p)
    return determined


def integer_solutions(grid: list[list[int | None]], bound: int) -> list[dict[tuple[int, int], int]]:
    """Every assignment of non-negative integers (≤ bound) to the hidden cells that agrees with
    every published row, column and total: what a patient reader could enumerate."""
    n_rows, n_columns = len(grid) - 1, len(grid[0]) - 1
    hidden = [(i, j) for i in range(n_rows + 1) for j in range(n_columns + 1) if grid[i][j] is None]
    lines = equations(n_rows, n_columns)
    solutions = []

    def consistent(values: dict[tuple[int, int], int], complete: bool) -> bool:
        for line in lines:
            if not complete and any(p in hidden and p not in values for p, _ in line):
                continue
            total = 0
            for (i, j), coefficient in line:
                value = values[(i, j)] if (i, j) in values else grid[i][j]
                assert value is not None
                total += coefficient * value
            if total != 0:
                return False
        return True

    def search(k: int, values: dict[tuple[int, int], int]) -> None:
        if k == len(hidden):
            if consistent(values, True):
                solutions.append(dict(values))
            return
        for v in range(bound + 1):
            values[hidden[k]] = v
            if consistent(values, False):
                search(k + 1, values)
            del values[hidden[k]]

    search(0, {})
    return solutions


# -- the fixture with a cell of 1 ----------------------------------------------------------------
def test_the_cell_of_one_is_secret_and_no_hidden_cell_can_be_recomputed() -> None:
    table = protect_table(FIXTURE, rows=ROWS, columns=COLUMNS)

    assert table.threshold == DEFAULT_SECRECY_THRESHOLD == 5
    assert table.cell("59", "2026-01").value is None
    assert table.cell("59", "2026-01").suppression is Suppression.PRIMARY
    grid = published_grid(table)
    truth = full_grid(FIXTURE)
    # Everything shown is true, every small count is hidden.
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            assert value is None or value == truth[i][j]
            if 0 < truth[i][j] < 5:
                assert value is None
    # Secondary secrecy was needed and used.
    secondary = [c for line in table.grid() for c in line if c.suppression is Suppression.SECONDARY]
    assert secondary
    # No row or column (totals included) has exactly one hidden value…
    assert recoverable_by_one_subtraction(grid) == set()
    # …nor does any combination of them give one back…
    assert determined_by_linear_algebra(grid) == set()
    assert disclosed_cells(table) == set()
    # …and each hidden cell has at least two values consistent with what is published.
    solutions = integer_solutions(grid, bound=max(max(line) for line in truth))
    hidden = {p for p, _ in solutions[0].items()}
    assert {(0, 0)} <= hidden
    for p in hidden:
        assert len({s[p] for s in solutions}) >= 2, f"cell {p} is pinned down"
    assert any(s[(0, 0)] == 1 for s in solutions)


def test_without_secondary_suppression_the_cell_of_one_would_be_recovered() -> None:
    # The reference checks can fail: hide only the 1 and the row total gives it back.
    grid: list[list[int | None]] = [list(line) for line in full_grid(FIXTURE)]
    grid[0][0] = None
    assert recoverable_by_one_subtraction(grid) == {(0, 0)}
    assert determined_by_linear_algebra(grid) == {(0, 0)}


#: A table where hiding a second value in every line is not enough: one hidden cell is still given
#: back by a combination of lines (it is a bridge between two groups of hidden cells).
BRIDGED = [
    [1, 50, 50, 3, 7, 12],
    [4, 5, 12, 30, 5, 2],
    [30, 1, 0, 30, 12, 1],
    [5, 0, 1, 50, 2, 3],
    [3, 0, 30, 7, 12, 30],
]


def test_a_cell_given_back_by_a_combination_of_lines_is_protected_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patched:
        # Without the cycle-closing step, line-by-line secrecy leaves a cell recoverable.
        patched.setattr(statistical_secrecy, "_bridges", lambda edges: set())
        lines_only = published_grid(protect_table(BRIDGED))
    assert recoverable_by_one_subtraction(lines_only) == set()
    assert determined_by_linear_algebra(lines_only) != set()

    grid = published_grid(protect_table(BRIDGED))
    assert determined_by_linear_algebra(grid) == set()
    assert recoverable_by_one_subtraction(grid) == set()


@settings(max_examples=80, deadline=None)
@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda width: st.lists(
            st.lists(
                st.sampled_from([0, 0, 1, 2, 3, 4, 5, 7, 12, 30]), min_size=width, max_size=width
            ),
            min_size=1,
            max_size=6,
        )
    ),
    st.sampled_from([3, 5, 11]),
)
def test_no_table_discloses_a_hidden_cell(counts: list[list[int]], threshold: int) -> None:
    table = protect_table(counts, threshold=threshold)
    grid = published_grid(table)
    truth = full_grid(counts)
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            assert value is None or value == truth[i][j]
            if 0 < truth[i][j] < threshold:
                assert value is None
    assert recoverable_by_one_subtraction(grid) == set()
    assert determined_by_linear_algebra(grid) == set()
    assert disclosed_cells(table) == set()


# -- settings and rendering ----------------------------------------------------------------------
def test_the_threshold_is_a_setting() -> None:
    strict = protect_table([[10, 40], [30, 50]], threshold=11)
    assert strict.cells[0][0].value is None
    lenient = protect_table([[10, 40], [30, 50]], threshold=5)
    assert lenient.secret_positions() == set()
    with pytest.raises(ValueError, match="at least 1"):
        protect_table([[1]], threshold=0)


def test_zeros_are_shown_and_a_table_without_small_counts_is_unchanged() -> None:
    table = protect_table([[0, 12], [9, 30]])
    assert table.secret_positions() == set()
    assert published_grid(table) == full_grid([[0, 12], [9, 30]])


def test_json_shows_secret_values_as_null_with_their_flag() -> None:
    table = protect_table(FIXTURE, rows=ROWS, columns=COLUMNS)
    document = json.loads(json.dumps(table.as_json()))
    assert document["secrecy_threshold"] == 5
    first = document["rows"][0]
    assert first["label"] == "59"
    assert first["values"]["2026-01"] is None
    assert "2026-01" in first["secret"]
    assert all(first["values"][c] is None for c in first["secret"] if c != "total")
    assert document["totals"]["total"] == sum(map(sum, FIXTURE))


def test_csv_shows_secret_in_place_of_the_value() -> None:
    table = protect_table(FIXTURE, rows=ROWS, columns=COLUMNS)
    out = io.StringIO()
    csv.writer(out).writerows(table.csv_rows(corner="département"))
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert lines[0] == ["département", *COLUMNS, "Total"]
    assert lines[1][1] == SECRET_MARK
    assert lines[-1][0] == "Total"
    hidden = sum(cell == SECRET_MARK for line in lines[1:] for cell in line[1:])
    assert hidden == len(table.secret_positions())


def test_a_one_column_indicator_hides_its_small_count_and_a_partner() -> None:
    per_departement = {"59": 12, "62": 3, "80": 40}
    cells, total = protect_counts(per_departement)
    assert cells["62"].suppression is Suppression.PRIMARY
    hidden = [label for label, cell in cells.items() if cell.secret]
    # With the total published, a single hidden count would be the total minus the others.
    assert len(hidden) >= 2
    assert total.value == 55
    shown = sum(cell.value or 0 for cell in cells.values())
    assert all(total.value - shown != per_departement[label] or len(hidden) > 1 for label in hidden)


@pytest.mark.parametrize(("rows", "columns"), list(itertools.product([1, 2, 3], [1, 2, 3])))
def test_a_single_small_count_is_never_alone_in_any_shape(rows: int, columns: int) -> None:
    counts = [[20 + i + j for j in range(columns)] for i in range(rows)]
    counts[0][0] = 1
    grid = published_grid(protect_table(counts))
    assert grid[0][0] is None
    assert determined_by_linear_algebra(grid) == set()


def test_overlapping_groups_hide_only_their_small_counts() -> None:
    # A referral counts in each of its priority publics: the groups do not add up to the total.
    per_public = {"rqth": 3, "brsa": 20, "jeune": 14, "aucun": 30}
    cells, total = protect_counts(per_public, total=60, groups_overlap=True)
    assert cells["rqth"].suppression is Suppression.PRIMARY
    assert [label for label, cell in cells.items() if cell.secret] == ["rqth"]
    assert total.value == 60
    with pytest.raises(ValueError, match="groups_overlap"):
        protect_counts(per_public, total=60)
    with pytest.raises(ValueError, match="real total"):
        protect_counts(per_public, groups_overlap=True)


@pytest.mark.parametrize(
    ("hits", "base", "secret"),
    [(0, 0, False), (0, 12, False), (12, 12, False), (6, 12, False), (3, 12, True), (9, 12, True)],
)
def test_a_rate_is_secret_when_it_gives_back_a_small_count(
    hits: int, base: int, secret: bool
) -> None:
    assert rate_is_secret(hits, base) is secret

"""Statistical secrecy for indicator tables (issue 11, item 6): small counts are never shown, and
no total gives them back.

**Primary secrecy.** A count ``0 < n < threshold`` is secret (zeros are shown: nobody is singled
out by an empty cell). The threshold is a setting, ``DEFAULT_SECRECY_THRESHOLD = 5`` by default.
What French official statistics do, as far as it could be checked (2026-12):

- INSEE's table-protection manual (InseeFrLab, *Manuel de protection des tableaux*, annex
  "Règles"): for business statistics a cell must not be built from strictly fewer than **3**
  units (plus the 85 % dominance rule for amounts); for tax data about natural persons (DGFiP),
  fewer than **11** units is not published. Read at the source.
- Health statistics: the ATIH (ScanSanté) masks counts under **11** at the CNIL's request, and the
  CASD output rules ask for no cell under 11 patients for PMSI data. UNVERIFIED here: seen quoted
  in a third-party summary of the CASD guide (06/2022, §5.23), not read at the source.
- Ministry statistical services on persons (DARES, DREES) commonly use **5**: UNVERIFIED (the same
  summary says "DREES = 5 (individus)"); no France Travail rule for the convention's indicators
  was found. 5 is therefore the platform's default, to be confirmed by the DPO; counts of RQTH
  job seekers are health data (GDPR art. 9) and may call for 11, like health statistics — the
  threshold is a parameter so that each indicator can say which it uses.

**Secondary secrecy** ("secret secondaire": preventing the reconstruction of a hidden cell *by sum
or by difference*, CASD guide §2.3.1.2, UNVERIFIED at the source; INSEE's τ-Argus does the same).
The table is read with its margins: each row and each column, the total row and the total column,
is an equation "the cells add up to the total". A hidden cell can be recovered exactly from the
published values if and only if it is a *bridge* of the graph whose vertices are the rows and
columns and whose edges are the hidden cells (the solutions differ by alternating sums around
cycles; a cell on no cycle never moves). So, until stable:

1. a row or column (totals included) with exactly one hidden value gets a second one: its
   smallest non-zero cell, a total only when no cell is left (a zero only as a last resort);
2. a hidden cell still recoverable through several lines (a bridge) gets a cell that closes a
   cycle through it, chosen the same way.

At the end no hidden cell is determined by any combination of the published rows, columns and
totals (:func:`disclosed_cells` checks it). Choosing non-zero partners also keeps the bounds that
counts cannot be negative from pinning a hidden value down; it is not a full interval audit
(τ-Argus' protection levels), which this platform's small tables have not needed so far.

Totals are the sums of the cells, computed here. The output marks each value as secret
(``value=None``, ``secret=True``, with ``suppression`` saying primary or secondary), which JSON
renders as ``null`` with its flag and CSV as ``"secret"`` (:data:`SECRET_MARK`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Counts strictly below this are secret (see the module docstring for the sources).
DEFAULT_SECRECY_THRESHOLD = 5
#: What CSV (and any text rendering) shows in place of a secret value.
SECRET_MARK = "secret"  # noqa: S105 (a word shown in tables, not a password)
TOTAL_LABEL = "Total"


class Suppression(StrEnum):
    #: Below the threshold.
    PRIMARY = "primary"
    #: Hidden so that a primary cell cannot be recomputed from the totals.
    SECONDARY = "secondary"


@dataclass(frozen=True, slots=True)
class ProtectedCell:
    """One published value: the count, or ``None`` when secret."""

    value: int | None
    suppression: Suppression | None = None

    @property
    def secret(self) -> bool:
        return self.suppression is not None

    def csv_value(self) -> str:
        return SECRET_MARK if self.value is None else str(self.value)


Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ProtectedTable:
    """A table of counts as it may be published.

    ``cells[i][j]`` is row ``rows[i]`` × column ``columns[j]``; ``row_totals[i]``,
    ``column_totals[j]`` and ``total`` are the margins, themselves secret when they must be.
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[ProtectedCell, ...], ...]
    row_totals: tuple[ProtectedCell, ...]
    column_totals: tuple[ProtectedCell, ...]
    total: ProtectedCell
    threshold: int

    def cell(self, row: str, column: str) -> ProtectedCell:
        return self.cells[self.rows.index(row)][self.columns.index(column)]

    def grid(self) -> list[list[ProtectedCell]]:
        """The table with its margins: the last row holds the column totals, the last column the
        row totals, the corner the grand total."""
        body = [[*line, t] for line, t in zip(self.cells, self.row_totals, strict=True)]
        return [*body, [*self.column_totals, self.total]]

    def secret_positions(self) -> set[Position]:
        """Positions in :meth:`grid` of the secret values."""
        return {
            (i, j)
            for i, line in enumerate(self.grid())
            for j, cell in enumerate(line)
            if cell.secret
        }

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready document: secret values are ``null`` and listed under ``secret``."""

        def line(label: str, cells: Sequence[ProtectedCell], total: ProtectedCell) -> Any:
            return {
                "label": label,
                "values": {c: cell.value for c, cell in zip(self.columns, cells, strict=True)},
                "total": total.value,
                "secret": [c for c, cell in zip(self.columns, cells, strict=True) if cell.secret]
                + (["total"] if total.secret else []),
            }

        return {
            "secrecy_threshold": self.threshold,
            "columns": list(self.columns),
            "rows": [
                line(label, cells, total)
                for label, cells, total in zip(self.rows, self.cells, self.row_totals, strict=True)
            ],
            "totals": line(TOTAL_LABEL, self.column_totals, self.total),
        }

    def csv_rows(self, corner: str = "") -> list[list[str]]:
        """Header, one line per row and the total line; secret values read ``secret``."""
        header = [corner, *self.columns, TOTAL_LABEL]
        body = [
            [label, *(c.csv_value() for c in cells), total.csv_value()]
            for label, cells, total in zip(self.rows, self.cells, self.row_totals, strict=True)
        ]
        last = [TOTAL_LABEL, *(c.csv_value() for c in self.column_totals), self.total.csv_value()]
        return [header, *body, last]


def protect_table(
    counts: Sequence[Sequence[int]],
    *,
    rows: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    threshold: int = DEFAULT_SECRECY_THRESHOLD,
) -> ProtectedTable:
    """The table of ``counts`` (rows × columns, non-negative) with its totals, small counts
    hidden and enough others hidden that none can be recomputed."""
    if threshold < 1:
        raise ValueError("the secrecy threshold must be at least 1")
    n_rows = len(counts)
    n_columns = len(counts[0]) if counts else len(columns or ())
    if any(len(line) != n_columns for line in counts):
        raise ValueError("every row needs the same number of columns")
    if any(value < 0 for line in counts for value in line):
        raise ValueError("counts cannot be negative")
    row_labels = tuple(rows) if rows is not None else tuple(str(i + 1) for i in range(n_rows))
    column_labels = (
        tuple(columns) if columns is not None else tuple(str(j + 1) for j in range(n_columns))
    )
    if len(row_labels) != n_rows or len(column_labels) != n_columns:
        raise ValueError("one label per row and per column")

    grid = _with_margins(counts, n_rows, n_columns)
    suppressed = {
        (i, j): Suppression.PRIMARY
        for i, line in enumerate(grid)
        for j, value in enumerate(line)
        if 0 < value < threshold
    }
    _secondary(grid, suppressed)

    def published(i: int, j: int) -> ProtectedCell:
        reason = suppressed.get((i, j))
        return ProtectedCell(None if reason else grid[i][j], reason)

    return ProtectedTable(
        rows=row_labels,
        columns=column_labels,
        cells=tuple(tuple(published(i, j) for j in range(n_columns)) for i in range(n_rows)),
        row_totals=tuple(published(i, n_columns) for i in range(n_rows)),
        column_totals=tuple(published(n_rows, j) for j in range(n_columns)),
        total=published(n_rows, n_columns),
        threshold=threshold,
    )


def protect_counts(
    counts: Mapping[str, int],
    *,
    threshold: int = DEFAULT_SECRECY_THRESHOLD,
    total: int | None = None,
    groups_overlap: bool = False,
) -> tuple[dict[str, ProtectedCell], ProtectedCell]:
    """A one-column indicator (a count per département, per network…): each group's published
    value and the total's.

    When the groups partition the population, the total is their sum and secondary secrecy
    applies (a lone hidden group would be the total minus the others). When they overlap (a
    person counted in each of their priority publics), pass ``groups_overlap=True`` and the real
    ``total``: no sum links them, so only primary secrecy applies, to each group and the total.
    """
    if groups_overlap:
        if total is None:
            raise ValueError("overlapping groups need their real total")
        return (
            {label: _primary(value, threshold) for label, value in counts.items()},
            _primary(total, threshold),
        )
    if total is not None and total != sum(counts.values()):
        raise ValueError("the groups do not add up to the total: pass groups_overlap=True")
    table = protect_table(
        [[value] for value in counts.values()],
        rows=list(counts),
        columns=["n"],
        threshold=threshold,
    )
    return (
        {label: cells[0] for label, cells in zip(table.rows, table.cells, strict=True)},
        table.total,
    )


def rate_is_secret(hits: int, base: int, *, threshold: int = DEFAULT_SECRECY_THRESHOLD) -> bool:
    """Whether a rate ``hits / base`` must be hidden: it would give back a small count, either
    those counted (``hits``) or those not (``base - hits``: "9 placed out of 10" names the one who
    was not)."""
    if not 0 <= hits <= base:
        raise ValueError("a rate needs 0 <= hits <= base")
    return any(0 < n < threshold for n in (hits, base - hits, base))


def _primary(value: int, threshold: int) -> ProtectedCell:
    if value < 0:
        raise ValueError("counts cannot be negative")
    if 0 < value < threshold:
        return ProtectedCell(None, Suppression.PRIMARY)
    return ProtectedCell(value)


def disclosed_cells(table: ProtectedTable) -> set[Position]:
    """Secret positions (in :meth:`ProtectedTable.grid`) that the published values determine
    exactly through the row, column and total equations. Empty for every table
    :func:`protect_table` returns."""
    return _bridges(table.secret_positions())


# -- internals ---------------------------------------------------------------------------------
def _with_margins(counts: Sequence[Sequence[int]], n_rows: int, n_columns: int) -> list[list[int]]:
    body = [[*line, sum(line)] for line in counts]
    column_totals = [sum(counts[i][j] for i in range(n_rows)) for j in range(n_columns)]
    return [*body, [*column_totals, sum(column_totals)]]


def _lines(n_rows: int, n_columns: int) -> list[list[Position]]:
    """Every additive equation of the grid: each row (totals row included), each column."""
    rows = [[(i, j) for j in range(n_columns + 1)] for i in range(n_rows + 1)]
    columns = [[(i, j) for i in range(n_rows + 1)] for j in range(n_columns + 1)]
    return [*rows, *columns]


def _secondary(grid: list[list[int]], suppressed: dict[Position, Suppression]) -> None:
    n_rows, n_columns = len(grid) - 1, len(grid[0]) - 1

    def cost(position: Position) -> tuple[int, bool, int, Position]:
        i, j = position
        value = grid[i][j]
        # A total costs more than a cell, a zero is a poor partner (its bound is known).
        return ((i == n_rows) + (j == n_columns), value == 0, value, position)

    def hide(candidates: list[Position]) -> None:
        best = min(candidates, key=cost)
        suppressed[best] = Suppression.SECONDARY

    lines = _lines(n_rows, n_columns)
    while True:
        lonely = next((line for line in lines if sum(p in suppressed for p in line) == 1), None)
        if lonely is not None:
            hide([p for p in lonely if p not in suppressed])
            continue
        secret = set(suppressed)
        bridges = _bridges(secret)
        if not bridges:
            return
        bridge = min(bridges)
        # Any cell joining the bridge's two sides closes a cycle through it; there is always one
        # (each side has a row and a column, since no line is left with a single hidden value).
        left, right = _sides(secret - {bridge}, bridge)
        joining = [(i, j) for i in left.rows for j in right.columns]
        joining += [(i, j) for i in right.rows for j in left.columns]
        hide([p for p in joining if p not in suppressed])


@dataclass(slots=True)
class _Side:
    rows: set[int]
    columns: set[int]


Vertex = tuple[str, int]


def _adjacency(edges: set[Position]) -> dict[Vertex, list[tuple[Vertex, Position]]]:
    """The bipartite graph of hidden cells: row ``i`` and column ``j`` joined by cell (i, j)."""
    adjacency: dict[Vertex, list[tuple[Vertex, Position]]] = defaultdict(list)
    for i, j in sorted(edges):
        adjacency[("r", i)].append((("c", j), (i, j)))
        adjacency[("c", j)].append((("r", i), (i, j)))
    return adjacency


def _component(edges: set[Position], start: Vertex) -> _Side:
    adjacency = _adjacency(edges)
    side = _Side(set(), set())
    seen = {start}
    todo = [start]
    while todo:
        kind, index = vertex = todo.pop()
        (side.rows if kind == "r" else side.columns).add(index)
        for neighbour, _ in adjacency.get(vertex, ()):
            if neighbour not in seen:
                seen.add(neighbour)
                todo.append(neighbour)
    return side


def _sides(edges: set[Position], bridge: Position) -> tuple[_Side, _Side]:
    i, j = bridge
    return _component(edges, ("r", i)), _component(edges, ("c", j))


def _bridges(edges: set[Position]) -> set[Position]:
    """The hidden cells on no cycle: exactly those the published values determine (Tarjan's
    bridge search, iterative)."""
    adjacency = _adjacency(edges)
    order: dict[Vertex, int] = {}
    low: dict[Vertex, int] = {}
    bridges: set[Position] = set()
    for root in list(adjacency):
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack: list[tuple[Vertex, Position | None, Iterator[tuple[Vertex, Position]]]] = [
            (root, None, iter(adjacency[root]))
        ]
        while stack:
            vertex, via, neighbours = stack[-1]
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if neighbour in order:
                    low[vertex] = min(low[vertex], order[neighbour])
                else:
                    order[neighbour] = low[neighbour] = len(order)
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    break
            else:
                stack.pop()
                if stack and via is not None:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[vertex])
                    if low[vertex] > order[parent]:
                        bridges.add(via)
    return bridges

"""The indicators' maintained aggregates (issue 14, item 7; docs/performance.md, "Queries at a
million rows", says how and why): anonymous counts per sending day and month × sending
structure × one grouping dimension, and the first-answer delays by hour and by minute, folded
from the referrals' activity by a periodic job — never on the sending path — and read by
:mod:`.indicators` instead of scanning the period's referrals. ``indicator_marks`` keeps what
each referral was last counted as: a fold subtracts it and adds the current one, so folding
twice counts once, and a referral gone (archived, erased) keeps its past figures. A read adds,
in memory, what the referrals touched since the last fold change: figures are always current.
Other rules than the fold's, or filters beyond a period, are computed from the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, select, true, union
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain.indicators import (
    MEASURES,
    TOTAL,
    GroupBy,
    Rules,
    cell_keys,
    contribution,
    delay_minutes,
    measure_sums,
    scheme_sums,
)
from referral.models import (
    Referral,
    ReferralSchemeEvent,
    ReferralTransition,
    indicator_cells,
    indicator_delays,
    indicator_fold_state,
    indicator_marks,
)
from referral.use_cases.fold_memory import FoldMemory, Stamp, stamps_of
from referral.use_cases.indicator_cells import (
    Histograms,
    answers,
    filtered_cell,
    periods,
    read_medians,
    write_many,
)
from referral.use_cases.indicators import IndicatorFilters, check_period, load_facts
from shared.auth.tokens import Principal
from shared.db.database import Database

#: Activity this long before the last fold is folded again (a transaction that committed after
#: the fold began with an earlier time): harmless, the marks make it count once.
OVERLAP = timedelta(seconds=60)
#: Referrals loaded per statement while rebuilding (and reading what is not folded yet).
BATCH = 2000
#: Touched referrals per transaction of the periodic fold (~0.5 ms of Python and ~20 upserts
#: each): the write lock and the event loop are held tens of milliseconds at a time.
CHUNK = 100
#: A rebuild adds the cells' changes up in memory and writes them once this many cells and
#: delays are pending (then again): bounded memory whatever the store (~200 bytes a key).
PENDING = 500_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY = ("dimension", "grain", "period", "scope", "value")
_DELAY_KEY = (*_KEY, "unit", "minutes")
#: The delays of every structure together (what ops and steering read).
EVERY = "*"


def _rules_json(rules: Rules) -> dict[str, float]:
    return {
        "acknowledgement_hours": float(rules.acknowledgement_hours),
        "durable_contract_months": float(rules.durable_contract_months),
    }


def _month(day: date) -> date:
    return day.replace(day=1)


# -- one referral's contribution -----------------------------------------------------------------


def _mark(facts: Any, scope: str, rules: Rules) -> dict[str, Any]:
    vector = {name: n for name, n in contribution(facts, rules).items() if n}
    return {
        "day": facts.created_at.astimezone(UTC).date().isoformat(),
        "scope": scope,
        "keys": cell_keys(facts),
        "vector": vector,
        "minutes": delay_minutes(facts),
    }


@dataclass
class _Delta:
    """Changes to the cells: counts and delays per cell key."""

    cells: dict[tuple[Any, ...], Counter[str]] = field(default_factory=dict)
    delays: Counter[tuple[Any, ...]] = field(default_factory=Counter)

    def add(self, mark: dict[str, Any], sign: int) -> None:
        day = date.fromisoformat(mark["day"])
        vector = [(name, sign * n) for name, n in mark["vector"].items()]
        minutes = mark["minutes"]
        scopes = (mark["scope"], EVERY)
        cells, delays = self.cells, self.delays
        for grain, period in (("d", day), ("m", _month(day))):
            for dimension, values in mark["keys"].items():
                for value in values:
                    key = (dimension, grain, period, mark["scope"], value)
                    cell = cells.get(key)
                    if cell is None:
                        cell = cells[key] = Counter()
                    for name, n in vector:
                        cell[name] += n
                    if minutes is None:
                        continue
                    for scope in scopes:
                        delays[(dimension, grain, period, scope, value, "h", minutes // 60)] += sign
                        delays[(dimension, grain, period, scope, value, "m", minutes)] += sign

    def __len__(self) -> int:
        return len(self.cells) + len(self.delays)


def _touched(since: datetime) -> Any:
    """The referrals with activity at or after ``since``."""
    return union(
        select(ReferralTransition.referral_id.label("id")).where(
            ReferralTransition.recorded_at >= since
        ),
        select(ReferralSchemeEvent.referral_id.label("id")).where(
            ReferralSchemeEvent.recorded_at >= since
        ),
        select(Referral.id.label("id")).where(Referral.updated_at >= since),
    ).subquery()


async def _marks(session: AsyncSession, ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    rows = await session.execute(
        select(indicator_marks.c.referral_id, indicator_marks.c.facts).where(
            indicator_marks.c.referral_id.in_(list(ids))
        )
    )
    return {row.referral_id: row.facts for row in rows}


async def _changes(
    session: AsyncSession, ids: list[Any], rules: Rules, into: _Delta | None = None
) -> tuple[_Delta, dict[Any, dict[str, Any]]]:
    """What the referrals ``ids`` change in the cells (their current facts minus their marks;
    added to ``into`` when given), and their new marks. A referral gone from the store keeps
    its mark."""
    current = await load_facts(session, [Referral.id.in_(ids)])
    before = await _marks(session, current)
    delta, marks = (_Delta() if into is None else into), {}
    for referral_id, (facts, scope) in current.items():
        mark = _mark(facts, scope, rules)
        old = before.get(referral_id)
        if old == mark:
            continue
        if old is not None:
            delta.add(old, -1)
        delta.add(mark, +1)
        marks[referral_id] = mark
    return delta, marks


# -- folding (the job, the rebuild) ---------------------------------------------------------------


async def _apply(session: AsyncSession, delta: _Delta, marks: dict[Any, dict[str, Any]]) -> None:
    cells = [
        {**dict(zip(_KEY, key, strict=True)), **{m: counts.get(m, 0) for m in MEASURES}}
        for key, counts in delta.cells.items()
    ]
    await write_many(session, indicator_cells, cells, key=_KEY, counted=tuple(MEASURES))
    delays = [
        {**dict(zip(_DELAY_KEY, key, strict=True)), "count": n}
        for key, n in delta.delays.items()
        if n
    ]
    await write_many(session, indicator_delays, delays, key=_DELAY_KEY, counted=("count",))
    if marks:
        await session.execute(
            delete(indicator_marks).where(indicator_marks.c.referral_id.in_(list(marks)))
        )
        await write_many(
            session, indicator_marks, [{"referral_id": k, "facts": v} for k, v in marks.items()]
        )


async def _state(session: AsyncSession, *, lock: bool = False) -> Any:
    statement = select(indicator_fold_state)
    # One fold at a time (every replica runs the job): PostgreSQL locks the row; SQLite's
    # writing transaction is already exclusive.
    return (await session.execute(statement.with_for_update() if lock else statement)).first()


async def _clear(session: AsyncSession) -> None:
    for table in (indicator_cells, indicator_delays, indicator_marks, indicator_fold_state):
        await session.execute(delete(table))


async def fold(
    database: Database, rules: Rules, *, rebuild: bool = False, memory: FoldMemory | None = None
) -> int:
    """Fold the referrals' activity since the last fold into the cells (all of it, from the
    rows, with ``rebuild`` or when the rules changed); the number of referrals re-counted.

    A rebuild (or the first fold) is one transaction; the periodic fold one per :data:`CHUNK`
    touched referrals, each moving their cells and marks together (docs/performance.md, "In
    short transactions"): a read between two chunks gives the same figures. With ``memory``
    (the job's), a touched referral whose stamp has not moved since is not loaded again."""
    started = datetime.now(UTC)
    async with database.transaction() as session:
        state = await _state(session, lock=True)
        if rebuild or state is None or state.rules != _rules_json(rules):
            await _clear(session)
            if memory is not None:
                memory.stamps.clear()
            return await _rebuild(session, rules, started)
    since = state.folded_until - OVERLAP
    moved, after = 0, None
    remembered = memory.stamps if memory is not None else {}
    seen: dict[Any, Stamp] = {}
    while True:
        async with database.transaction() as session:
            # Each chunk takes the state row's lock again: one fold's chunk at a time.
            state = await _state(session, lock=True)
            if state is None or state.rules != _rules_json(rules):
                if memory is not None:
                    memory.stamps.clear()
                return moved  # rebuilt meanwhile (other rules): that fold counted everything
            ids = await _page(session, select(_touched(since).c.id.label("id")), after, CHUNK)
            if not ids:
                if state.folded_until < started:
                    await session.execute(
                        indicator_fold_state.update().values(folded_until=started)
                    )
                if memory is not None:
                    memory.stamps = seen  # the next fold's touched referrals are among these
                return moved
            # Stamps before facts (read committed: a stamp never stands for older facts).
            stamps = await stamps_of(session, ids) if memory is not None else {}
            fresh = [i for i in ids if i not in stamps or remembered.get(i) != stamps[i]]
            delta, marks = await _changes(session, fresh, rules) if fresh else (_Delta(), {})
            await _apply(session, delta, marks)
        seen.update(stamps)  # committed: these referrals' marks are as of their stamps
        moved += len(marks)
        after = ids[-1]


async def _page(session: AsyncSession, page: Any, after: Any, size: int) -> list[Any]:
    """The next ``size`` referral ids of ``page`` (a select of ``id``) after ``after``."""
    ordered = page.subquery()
    statement = select(ordered.c.id).order_by(ordered.c.id).limit(size)
    if after is not None:
        statement = statement.where(ordered.c.id > after)
    return list((await session.execute(statement)).scalars())


async def _rebuild(session: AsyncSession, rules: Rules, started: datetime) -> int:
    """Every referral counted from nothing, in ``session``'s transaction: the cells' changes add
    up in memory and are written at the end (and whenever ``PENDING`` keys wait)."""
    whole, moved, after = _Delta(), 0, None
    while ids := await _page(session, select(Referral.id), after, BATCH):
        _, marks = await _changes(session, ids, rules, whole)
        await _apply(session, _Delta(), marks)
        if len(whole) > PENDING:
            await _apply(session, whole, {})
            whole = _Delta()
        moved += len(marks)
        after = ids[-1]
    await _apply(session, whole, {})
    values = {"id": 1, "folded_until": started, "rules": _rules_json(rules)}
    await session.execute(indicator_fold_state.insert(), [values])
    return moved


# -- reading ---------------------------------------------------------------------------------------


@dataclass
class Aggregated:
    """Summed counts and delays per dimension and group, for the totals and one grouping."""

    group_by: GroupBy | None
    sums: dict[tuple[str, str], Counter[str]]
    medians: dict[tuple[str, str], float | None]

    def _groups(self) -> list[str]:
        if self.group_by is None:
            return []
        dimension = self.group_by.value
        return sorted(v for (d, v), c in self.sums.items() if d == dimension and c["sent"] > 0)

    def _sums(self, key: tuple[str, str]) -> dict[str, int]:
        found = self.sums.get(key, Counter())
        return {name: found.get(name, 0) for name in MEASURES}

    def indicators(self) -> dict[str, Any]:
        """As :func:`referral.domain.indicators.compute`."""

        def measured(key: tuple[str, str]) -> dict[str, Any]:
            return measure_sums(self._sums(key), self.medians.get(key))

        dimension = self.group_by.value if self.group_by else ""
        return {
            "total": measured((TOTAL, "")),
            "groups": [{"group": v, **measured((dimension, v))} for v in self._groups()],
        }

    def schemes(self) -> dict[str, Any]:
        """As :func:`referral.use_cases.indicators.measure_scheme_indicators`."""
        dimension = self.group_by.value if self.group_by else ""
        return {
            "total": scheme_sums(self._sums((TOTAL, ""))),
            "groups": [
                {"group": v, **scheme_sums(self._sums((dimension, v)))} for v in self._groups()
            ],
        }


def _scope(table: Any, structures: tuple[str, ...] | None) -> ColumnElement[bool]:
    if structures is None:
        return true()
    return table.c.scope.in_(structures) if structures else false()


async def read_aggregates(
    session: AsyncSession,
    principal: Principal,
    filters: IndicatorFilters,
    rules: Rules | None,
    group_by: GroupBy | None,
    *,
    medians: bool = True,
) -> Aggregated | None:
    """The figures from the cells plus the referrals touched since the last fold (``None``
    when the cells cannot answer: other filters, other rules, never folded); ``medians=False``
    leaves the delays unread (the scheme figures have none)."""
    cell = None
    if not answers(filters):
        cell = filtered_cell(filters)
        if cell is None or group_by is not None:
            return None
    check_period(filters)
    state = await _state(session)
    if state is None:
        # Never folded: the cells are empty and every referral is "touched since".
        return await _from_cells(
            session, principal, filters, rules or Rules(), group_by, _EPOCH, cell, medians
        )
    if rules is not None and state.rules != _rules_json(rules):
        return None
    fold_rules = Rules(
        acknowledgement_hours=state.rules["acknowledgement_hours"],
        durable_contract_months=int(state.rules["durable_contract_months"]),
    )
    since = state.folded_until - OVERLAP
    return await _from_cells(
        session, principal, filters, fold_rules, group_by, since, cell, medians
    )


async def _from_cells(
    session: AsyncSession,
    principal: Principal,
    filters: IndicatorFilters,
    rules: Rules,
    group_by: GroupBy | None,
    since: datetime,
    cell: tuple[str, str] | None = None,
    with_medians: bool = True,
) -> Aggregated:
    """The figures of the cells; with ``cell`` (one filter, :func:`filtered_cell`), that
    group's figures as the totals."""
    structures = access.counted_structures(principal)
    dimensions = [TOTAL, *([group_by.value] if group_by else [])]

    def where(table: Any) -> list[ColumnElement[bool]]:
        chosen = (
            table.c.dimension.in_(dimensions)
            if cell is None
            else and_(table.c.dimension == cell[0], table.c.value == cell[1])
        )
        return [
            chosen,
            periods(table, filters.period_from, filters.period_to),
            _scope(table, structures),
        ]

    c = indicator_cells.c
    sums: dict[tuple[str, str], Counter[str]] = {}
    statement = (
        select(c.dimension, c.value, *(func.sum(c[m]).label(m) for m in MEASURES))
        .where(*where(indicator_cells))
        .group_by(c.dimension, c.value)
    )
    for row in await session.execute(statement):
        sums[(row.dimension, row.value)] = Counter({m: int(row._mapping[m]) for m in MEASURES})
    recent = await _recent(session, since, rules, filters, structures, sums)
    scopes = (EVERY,) if structures is None else structures
    if cell is not None:
        recent = {unit: {cell: h[cell]} if cell in h else {} for unit, h in recent.items()}
    medians = (
        await read_medians(session, scopes, where(indicator_delays)[0], filters, recent)
        if with_medians
        else {}
    )
    if cell is not None:
        total = (TOTAL, "")
        sums = {total: sums.get(cell, Counter())}
        medians = {total: medians.get(cell)}
    return Aggregated(group_by, sums, medians)


async def _recent(
    session: AsyncSession,
    since: datetime,
    rules: Rules,
    filters: IndicatorFilters,
    structures: tuple[str, ...] | None,
    sums: dict[tuple[str, str], Counter[str]],
) -> dict[str, Histograms]:
    """Add to ``sums`` what the referrals touched at or after ``since`` change (their current
    facts minus what the cells counted them as, the day cells' share); the delays' change, by
    unit (``h``, ``m``) and group."""
    ids = list((await session.execute(select(_touched(since).c.id))).scalars())
    scopes = (EVERY,) if structures is None else structures
    delays: dict[str, Histograms] = {"h": {}, "m": {}}
    for start in range(0, len(ids), BATCH):
        delta, _ = await _changes(session, ids[start : start + BATCH], rules)
        for (dimension, grain, period, scope, value), counts in delta.cells.items():
            if grain == "d" and _kept_cell(period, scope, filters, structures):
                sums.setdefault((dimension, value), Counter()).update(counts)
        for (dimension, grain, period, scope, value, unit, at), n in delta.delays.items():
            if grain == "d" and scope in scopes and _kept_cell(period, scope, filters, None):
                delays[unit].setdefault((dimension, value), Counter())[at] += n
    return delays


def _kept_cell(
    day: date, scope: str, filters: IndicatorFilters, structures: tuple[str, ...] | None
) -> bool:
    if filters.period_from is not None and day < filters.period_from:
        return False
    if filters.period_to is not None and day > filters.period_to:
        return False
    return structures is None or scope in structures

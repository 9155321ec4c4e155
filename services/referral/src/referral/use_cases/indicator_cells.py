"""Which cells of the indicators' maintained aggregates a read takes (a period: whole months
and days; one filter: its group), the medians read from them, and writing cells in bulk — for
:mod:`.indicator_facts`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain.indicators import (
    NONE_GROUP,
    TOTAL,
    GroupBy,
    locate,
    median_hours,
    middle_ranks,
)
from referral.models import indicator_cells, indicator_delays
from referral.use_cases.indicators import IndicatorFilters

#: At most so many selects in one ``UNION ALL`` (SQLite allows 500).
_ARMS = 200
#: Delays per group (dimension, value): minute or hour → referrals.
Histograms = dict[tuple[str, str], Counter[int]]


def _month(day: date) -> date:
    return day.replace(day=1)


def answers(filters: IndicatorFilters) -> bool:
    """The cells answer a period and a grouping; other filters are computed from the rows
    (but for one filter without a grouping: :func:`filtered_cell`)."""
    return filters == IndicatorFilters(period_from=filters.period_from, period_to=filters.period_to)


def filtered_cell(filters: IndicatorFilters) -> tuple[str, str] | None:
    """The (dimension, value) whose cells count exactly the referrals of ``filters`` when it has
    one filter beyond the period: its referrals are that group's (a région, a network, a trade,
    a public…), so its totals are that group's figures. ``None`` otherwise."""
    period = {"period_from": filters.period_from, "period_to": filters.period_to}
    for name, dimension in _FILTER_DIMENSIONS.items():
        value = getattr(filters, name)
        if value is None:
            continue
        if filters != IndicatorFilters(**period, **{name: value}):
            return None  # more than one filter
        value = str(value.value if hasattr(value, "value") else value)
        # "aucun" is the group of the referrals without the value, not a value a filter matches.
        return None if value == NONE_GROUP else (dimension.value, value)
    return None


_FILTER_DIMENSIONS = {
    "region": GroupBy.REGION,
    "departement": GroupBy.DEPARTEMENT,
    "network_id": GroupBy.NETWORK,
    "agency_id": GroupBy.AGENCY,
    "priority_public": GroupBy.PRIORITY_PUBLIC,
    "scheme": GroupBy.SCHEME,
    "rome_code": GroupBy.ROME_CODE,
    "sector": GroupBy.SECTOR,
    "hard_to_fill": GroupBy.HARD_TO_FILL,
}


def periods(table: Any, first: date | None, last: date | None) -> ColumnElement[bool]:
    """Cells of whole months inside [first, last], and days of the partial months."""
    c = table.c
    start = first if first is None or first.day == 1 else _next_month(first)
    end = last if last is None or _next_day_is_first(last) else _month(last) - _DAY
    if start is not None and end is not None and start > end:
        return and_(c.grain == "d", *_between(c.period, first, last))
    parts = [and_(c.grain == "m", *_between(c.period, start, end))]
    if first is not None and start is not None and first < start:
        parts.append(and_(c.grain == "d", *_between(c.period, first, start - _DAY)))
    if last is not None and end is not None and last > end:
        parts.append(and_(c.grain == "d", *_between(c.period, end + _DAY, last)))
    return or_(*parts)


def period_spans(
    first: date | None, last: date | None, months: tuple[date, date] | None
) -> list[tuple[str, list[date]]]:
    """The same cells as :func:`periods`, as lists of periods per grain (``m``: months, ``d``:
    days) that an index on (…, grain, period, value, minutes) seeks one by one, where a range
    would read every group's minutes of the range. ``months``: the first and last months the
    cells hold, which bound a period left open."""
    start = first if first is None or first.day == 1 else _next_month(first)
    end = last if last is None or _next_day_is_first(last) else _month(last) - _DAY
    if first and last and start and end and start > end:  # one partial month
        return [("d", _days(first, last))]
    spans: list[tuple[str, list[date]]] = []
    if months is not None:
        month, until = max(start or months[0], months[0]), min(end or months[1], months[1])
        listed = []
        while month <= until:
            listed.append(month)
            month = _next_month(month)
        if listed:
            spans.append(("m", listed))
    if first is not None and start is not None and first < start:
        spans.append(("d", _days(first, start - _DAY)))
    if last is not None and end is not None and last > end:
        spans.append(("d", _days(end + _DAY, last)))
    return spans


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


_DAY = timedelta(days=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _next_day_is_first(day: date) -> bool:
    return (day + _DAY).day == 1


def _between(column: Any, first: date | None, last: date | None) -> list[ColumnElement[bool]]:
    return [
        *([column >= first] if first is not None else []),
        *([column <= last] if last is not None else []),
    ]


_PLACEHOLDERS: dict[str, Callable[[int], str]] = {
    "qmark": lambda n: "?",
    "numeric_dollar": lambda n: f"${n}",
    "numeric": lambda n: f":{n}",
    "format": lambda n: "%s",
    "pyformat": lambda n: "%s",
}


async def write_many(
    session: AsyncSession,
    table: Any,
    rows: list[dict[str, Any]],
    *,
    key: tuple[str, ...] = (),
    counted: tuple[str, ...] = (),
) -> None:
    """Insert ``rows`` (the same columns each) with one statement run many times straight through
    the driver, each value through its column type's bind processor as SQLAlchemy would send it;
    with ``key``, a row already there has its ``counted`` columns added to. A fold writes ~75
    rows per referral: SQLAlchemy's per-row parameter processing was most of its CPU."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    columns = list(rows[0])
    processors = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    place = _PLACEHOLDERS[dialect.paramstyle]
    # Identifiers from the tables, never from input; the values are bound.
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(place(n) for n in range(1, len(columns) + 1))})"
    )
    if key:
        added = ", ".join(
            f"{quote(c)} = {quote(table.name)}.{quote(c)} + excluded.{quote(c)}" for c in counted
        )
        statement += f" ON CONFLICT ({', '.join(quote(c) for c in key)}) DO UPDATE SET {added}"
    values = [
        tuple(
            p(row[c]) if p is not None else row[c] for c, p in zip(columns, processors, strict=True)
        )
        for row in rows
    ]
    await connection.exec_driver_sql(statement, values)


async def read_medians(
    session: AsyncSession,
    scopes: tuple[str, ...],
    chosen: ColumnElement[bool],
    filters: IndicatorFilters,
    recent: dict[str, Histograms],
) -> dict[tuple[str, str], float | None]:
    """Each group's median delay: the hours of the period first, then the minutes of the hour
    (or two) the middle falls in — exact to the minute. Both reads name their periods one by one
    (:func:`period_spans`), which the key of ``indicator_delays`` (…, grain, period, value,
    minutes) seeks: what they read grows with the period's length and its groups, not with the
    store."""
    d = indicator_delays.c
    if not scopes:
        return {}
    spans = period_spans(filters.period_from, filters.period_to, await _months_held(session))
    hours: Histograms = {key: Counter(c) for key, c in recent["h"].items()}
    for grain, listed in spans:
        statement = (
            select(d.dimension, d.value, d.minutes, func.sum(d.count).label("n"))
            .where(chosen, d.unit == "h", d.scope.in_(scopes), d.grain == grain)
            .where(d.period.in_(listed))
            .group_by(d.dimension, d.value, d.minutes)
        )
        for row in await session.execute(statement):
            hours.setdefault((row.dimension, row.value), Counter())[row.minutes] += int(row.n)
    wanted: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key, histogram in hours.items():
        n = sum(histogram.values())
        if n > 0:
            wanted[key] = [locate(histogram, rank) for rank in middle_ranks(n)]
    if not wanted:
        return {}
    # One seek per group, hour and span, sent together (a statement each costs more than its
    # seek).
    arms = [
        select(d.dimension, d.value, d.minutes, func.sum(d.count).label("n"))
        .where(d.dimension == key[0], d.unit == "m", d.scope.in_(scopes))
        .where(d.grain == grain, d.period.in_(listed), d.value == key[1])
        .where(d.minutes.between(hour * 60, hour * 60 + 59))
        .group_by(d.dimension, d.value, d.minutes)
        for key, spots in wanted.items()
        for hour in {hour for hour, _ in spots}
        for grain, listed in spans
    ]
    minutes: Histograms = {}
    for start in range(0, len(arms), _ARMS):
        for row in await session.execute(union_all(*arms[start : start + _ARMS])):
            minutes.setdefault((row.dimension, row.value), Counter())[row.minutes] += int(row.n)
    for key, histogram in recent["m"].items():
        minutes.setdefault(key, Counter()).update(histogram)
    medians: dict[tuple[str, str], float | None] = {}
    for key, spots in wanted.items():
        found = []
        for hour, rank in spots:
            within = {m: n for m, n in minutes.get(key, Counter()).items() if m // 60 == hour}
            found.append(locate(within, rank)[0])
        medians[key] = median_hours(found)
    return medians


async def _months_held(session: AsyncSession) -> tuple[date, date] | None:
    """The first and last months the cells hold (a seek in their key)."""
    c = indicator_cells.c
    row = (
        await session.execute(
            select(func.min(c.period), func.max(c.period)).where(
                c.dimension == TOTAL, c.grain == "m"
            )
        )
    ).one()
    return None if row[0] is None else (row[0], row[1])

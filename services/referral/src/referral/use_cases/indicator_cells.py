"""Which cells of the indicators' maintained aggregates a read takes (a period: whole months
and days; one filter: its group), and writing cells in bulk — for :mod:`.indicator_facts`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain.indicators import NONE_GROUP, GroupBy
from referral.use_cases.indicators import IndicatorFilters


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

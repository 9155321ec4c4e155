"""``period_spans`` names, period by period, exactly the cells ``periods`` selects with ranges:
the medians read the first, the sums the second, and both must take the same cells."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product

from sqlalchemy import Column, Date, MetaData, String, Table, create_engine, insert, select

from referral.use_cases.indicator_cells import period_spans, periods

_TABLE = Table("cells", MetaData(), Column("grain", String(1)), Column("period", Date))
_FIRST, _LAST = date(2025, 1, 1), date(2026, 12, 31)


def _every_cell() -> list[tuple[str, date]]:
    days = [_FIRST + timedelta(days=n) for n in range((_LAST - _FIRST).days + 1)]
    return [("d", day) for day in days] + [("m", day) for day in days if day.day == 1]


def test_the_listed_periods_are_the_cells_the_ranges_select() -> None:
    # An in-memory SQLite evaluates the ranges as the store does (a pure test: no file, no
    # server); the candidates are every day and month cell of two years.
    engine = create_engine("sqlite://")
    _TABLE.metadata.create_all(engine)
    cells = _every_cell()
    with engine.begin() as connection:
        connection.execute(insert(_TABLE), [{"grain": g, "period": p} for g, p in cells])
        bounds = [
            None,
            date(2025, 1, 1),
            date(2025, 3, 1),
            date(2025, 3, 15),
            date(2025, 3, 31),
            date(2025, 4, 10),
            date(2025, 12, 31),
            date(2026, 2, 28),
            date(2026, 6, 30),
        ]
        held = (date(2025, 1, 1), date(2026, 12, 1))
        for first, last in product(bounds, bounds):
            if first is not None and last is not None and first > last:
                continue
            ranged = set(
                connection.execute(
                    select(_TABLE.c.grain, _TABLE.c.period).where(periods(_TABLE, first, last))
                ).all()
            )
            listed = {
                (grain, day) for grain, days in period_spans(first, last, held) for day in days
            }
            assert listed & set(cells) == ranged, (first, last)


def test_an_open_period_is_bounded_by_the_months_the_cells_hold() -> None:
    spans = period_spans(None, None, (date(2026, 10, 1), date(2026, 12, 1)))
    assert spans == [("m", [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)])]
    assert period_spans(None, None, None) == []
    # Within one month: its days only, whatever the cells hold.
    assert period_spans(date(2026, 11, 3), date(2026, 11, 5), None) == [
        ("d", [date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 5)])
    ]

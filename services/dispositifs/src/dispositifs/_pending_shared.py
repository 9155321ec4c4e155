"""TEMPORARY: shared.http.pagination.fetch_page as the integrator's brief describes it, until it
lands on main (then this module is deleted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http.pagination import decode_time_cursor, encode_time_cursor


@dataclass
class KeysetPage:
    items: list[Any]
    next_cursor: str | None

    def map(self, fn: Callable[[Any], Any]) -> dict[str, Any]:
        return {"items": [fn(item) for item in self.items], "next_cursor": self.next_cursor}


async def fetch_page(
    session: AsyncSession,
    stmt: Any,
    *,
    created: Any,
    ident: Any,
    cursor: str | None,
    limit: int,
    newest_first: bool = True,
    scalars: bool = True,
) -> KeysetPage:
    stmt = stmt.order_by(created.desc(), ident.desc())
    if cursor:
        at, last = decode_time_cursor(cursor)
        stmt = stmt.where(or_(created < at, and_(created == at, ident < last)))
    rows = list(await session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_time_cursor(rows[-1].created_at, rows[-1].id)
    return KeysetPage(rows, next_cursor)

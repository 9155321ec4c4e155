"""Erasure in the platform tables every service has (issue 11): the outbox (published payloads
kept for replay, and rows still waiting) and the idempotency records (stored responses) that
mention the erased person are deleted. Works in the caller's database session (the service's own
erasure transaction).

A row is found by the identifiers of the person the caller gives (their pseudonymous ids, the
referral ids, their France Travail identifier, e-mail…): a JSON document that names them is
searched as text, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import String, Text, cast, delete, false, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from shared.db.tables import PlatformTables


@dataclass(frozen=True, slots=True)
class Erased:
    """One line of a service's erasure report."""

    table: str
    rows: int
    action: str = "deleted"

    def as_dict(self) -> dict[str, object]:
        return {"table": self.table, "rows": self.rows, "action": self.action}


def _escape(needle: str) -> str:
    return needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def mentions(column: ColumnElement[object], needles: Iterable[str]) -> ColumnElement[bool]:
    """The JSON (or text) column contains one of the needles (ignored when shorter than 4)."""
    text = cast(column, Text) if not isinstance(column.type, String) else column
    kept = sorted({n for n in needles if n and len(n) >= 4})
    if not kept:
        return false()
    return or_(*(text.like(f"%{_escape(n)}%", escape="\\") for n in kept))


async def erase_platform_copies(
    session: AsyncSession, tables: PlatformTables, needles: Iterable[str]
) -> list[Erased]:
    """Delete the outbox rows and idempotency records that mention the person."""
    needles = list(needles)
    outbox = await session.execute(
        delete(tables.outbox).where(mentions(tables.outbox.c.data, needles))
    )
    idempotency = await session.execute(
        delete(tables.idempotency_keys).where(
            mentions(tables.idempotency_keys.c.response_body, needles)
        )
    )
    return [
        Erased("outbox", _count(outbox)),
        Erased("idempotency_keys", _count(idempotency)),
    ]


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

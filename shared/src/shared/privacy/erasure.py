"""Erasure in the platform tables every service has (issue 11): the published outbox payloads and
the idempotency records (stored responses) that mention the erased person are deleted; rows still
waiting to be published keep their facts without the person's values. Works in the caller's
database session (the service's own erasure transaction).

A row is found by the identifiers of the person the caller gives (their pseudonymous ids, the
referral ids, their France Travail identifier, e-mail…): a JSON document that names them is
searched as text, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Text, cast, delete, false, or_, select, update
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
    session: AsyncSession,
    tables: PlatformTables,
    identifiers: Iterable[str],
    personal: Iterable[str] = (),
) -> list[Erased]:
    """Delete the published outbox rows and the idempotency records that mention the person (by
    one of ``identifiers`` or ``personal`` values); in rows still waiting to be published (their
    facts must still reach the other services) the ``personal`` values are replaced by a mark."""
    personal = [p for p in personal if p and len(p) >= 4]
    needles = [*identifiers, *personal]
    outbox = tables.outbox
    published = await session.execute(
        delete(outbox).where(outbox.c.published_at.is_not(None), mentions(outbox.c.data, needles))
    )
    redacted = 0
    if personal:
        waiting = await session.execute(
            select(outbox.c.id, outbox.c.data).where(
                outbox.c.published_at.is_(None), mentions(outbox.c.data, personal)
            )
        )
        for row in waiting.all():
            await session.execute(
                update(outbox).where(outbox.c.id == row.id).values(data=_redact(row.data, personal))
            )
            redacted += 1
    idempotency = await session.execute(
        delete(tables.idempotency_keys).where(
            mentions(tables.idempotency_keys.c.response_body, needles)
        )
    )
    return [
        Erased("outbox", _count(published)),
        Erased("outbox (en attente)", redacted, "erased"),
        Erased("idempotency_keys", _count(idempotency)),
    ]


ERASED_MARK = "(effacé)"


def _redact(value: Any, personal: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, personal) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, personal) for v in value]
    if isinstance(value, str) and any(p in value for p in personal):
        return ERASED_MARK
    return value


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

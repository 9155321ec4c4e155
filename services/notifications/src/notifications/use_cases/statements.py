"""SQL the use cases share: an ``INSERT … ON CONFLICT DO NOTHING`` in the store's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.conflicts import insert_ignoring_conflicts

#: The statements of :func:`inserted_returning`, per (table, returned column, dialect).
_BUILT: dict[tuple[str, str, str], Any] = {}


def inserted_returning(session: AsyncSession, table: Table, column: str) -> Any:
    """``INSERT INTO table … ON CONFLICT DO NOTHING RETURNING column`` in the session's dialect,
    built once per process (so that SQLAlchemy's compiled cache serves it every time)."""
    key = (table.name, column, session.get_bind().dialect.name)
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = insert_ignoring_conflicts(session, table).returning(
            table.c[column]
        )
    return statement

"""``INSERT … ON CONFLICT DO NOTHING`` in the store's dialect (Core's own ``insert`` has no such
clause): one statement where a read then an insert would take two."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignoring_conflicts(session: AsyncSession, table: Table) -> Any:
    """``INSERT INTO table … ON CONFLICT DO NOTHING`` (any unique key) in the session's dialect:
    the rows that were already there are left as they are (``RETURNING`` gives only the rows
    inserted)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()

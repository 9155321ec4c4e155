"""Keyset (cursor) pagination: the cursor is an opaque token of the last row's sort key.

One pager for every list of the platform: :func:`keyset` orders a query by (created_at, id) and
starts it after the cursor; :func:`fetch_page` runs it for one page and says where the next one
starts. A cursor that is not one of ours is a 422 naming ``cursor``, never a 500.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.domain.errors import FieldIssue, InvalidInput

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError("wrong shape")
        return values
    except (ValueError, json.JSONDecodeError) as exc:
        raise _unreadable() from exc


def decode_id_cursor(cursor: str, parse: Callable[[Any], T]) -> T:
    """The id a one-value cursor points after (``parse``: ``int``, ``str``…); a 422 naming
    ``cursor`` when it is not one of ours: the JSON value must already be of that type when
    ``parse`` is ``int`` or ``str`` (a number in place of a text id, or the reverse, is not one
    of ours), and an ``int`` must fit the 64-bit ids of the stores."""
    (value,) = decode_cursor(cursor, size=1)
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise _unreadable()
    if parse in (int, str) and not isinstance(value, parse):  # type: ignore[comparison-overlap]
        raise _unreadable()
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise _unreadable()
    try:
        return parse(value)
    except (TypeError, ValueError) as exc:
        raise _unreadable() from exc


def encode_time_cursor(created_at: datetime, row_id: object) -> str:
    """Cursor after a row in (created_at, id) order, the order of most listings."""
    return encode_cursor([created_at.isoformat(), str(row_id)])


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor points after; a 422 naming ``cursor`` if unreadable."""
    created_text, last_id = decode_cursor(cursor, size=2)
    if not isinstance(created_text, str) or not isinstance(last_id, str):
        raise _unreadable()
    try:
        created = datetime.fromisoformat(created_text)
        if created.tzinfo is None:
            raise ValueError("naive time")
        return created, uuid.UUID(last_id)
    except (TypeError, ValueError) as exc:
        raise _unreadable() from exc


MAX_PAGE_SIZE = 200

#: ``limit: LimitQuery = 50`` in a route: a page size from 1 to 200.
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="Taille de la page (1 à 200).")
]
#: ``cursor: CursorQuery = None``: where the page starts (``next_cursor`` of the previous one).
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="Curseur opaque: le next_cursor précédent.")
]


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """One page of rows and the cursor of the next one (None on the last page)."""

    items: list[T]
    next_cursor: str | None

    def map(self, out: Callable[[T], Any]) -> dict[str, Any]:
        """The page as the API answers it: ``{"items": [...], "next_cursor": ...}``."""
        return {"items": [out(item) for item in self.items], "next_cursor": self.next_cursor}


def keyset(
    stmt: Select[Any], created: Any, ident: Any, cursor: str | None, *, newest_first: bool = True
) -> Select[Any]:
    """``stmt`` ordered by (``created``, ``ident``) and starting after ``cursor``."""
    if newest_first:
        stmt = stmt.order_by(created.desc(), ident.desc())
    else:
        stmt = stmt.order_by(created.asc(), ident.asc())
    if cursor:
        at, last = decode_time_cursor(cursor)
        if newest_first:
            stmt = stmt.where(or_(created < at, and_(created == at, ident < last)))
        else:
            stmt = stmt.where(or_(created > at, and_(created == at, ident > last)))
    return stmt


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    created: Any,
    ident: Any,
    cursor: str | None,
    limit: int,
    newest_first: bool = True,
    scalars: bool = True,
) -> KeysetPage[Any]:
    """One page of ``stmt`` (ORM objects with ``scalars``, rows otherwise) after ``cursor``."""
    query = keyset(stmt, created, ident, cursor, newest_first=newest_first).limit(limit + 1)
    result = await session.execute(query)
    rows: list[Any] = list(result.scalars() if scalars else result.all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_time_cursor(getattr(last, created.key), getattr(last, ident.key))
    return KeysetPage(rows, next_cursor)


def _unreadable() -> InvalidInput:
    return InvalidInput(
        "Curseur de pagination illisible.",
        errors=[FieldIssue("cursor", "curseur invalide", "query")],
    )

"""Keyset (cursor) pagination: the cursor is an opaque token of the last row's sort key."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.http.problems import FieldError, ProblemError

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


def encode_time_cursor(created_at: datetime, row_id: object) -> str:
    """Cursor after a row in (created_at, id) order, the order of most listings."""
    return encode_cursor([created_at.isoformat(), str(row_id)])


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor points after; a 422 naming ``cursor`` if unreadable."""
    created_text, last_id = decode_cursor(cursor, size=2)
    try:
        return datetime.fromisoformat(created_text), uuid.UUID(last_id)
    except (TypeError, ValueError) as exc:
        raise _unreadable() from exc


def _unreadable() -> ProblemError:
    return ProblemError(
        422,
        "Requête invalide",
        "Curseur de pagination illisible.",
        problem="validation-error",
        errors=[FieldError("cursor", "curseur invalide", "query")],
    )

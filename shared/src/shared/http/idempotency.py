"""``Idempotency-Key`` for POSTs that create: the first response is stored with the key in the same
transaction as the creation; a retry with the same key and body gets that response again, a retry
with the same key and another body is refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.tokens import Principal
from shared.db.tables import PlatformTables
from shared.http.problems import FieldError, ProblemError

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=255,
        description="Client-chosen unique key (a UUID): retrying with it never creates twice.",
    ),
]

REPLAY_HEADER = "Idempotent-Replayed"


def fingerprint(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any
    location: str | None

    def as_response(self) -> JSONResponse:
        headers = {REPLAY_HEADER: "true"}
        if self.location:
            headers["Location"] = self.location
        return JSONResponse(self.body, status_code=self.status_code, headers=headers)


class IdempotencyStore:
    def __init__(self, tables: PlatformTables) -> None:
        self._table = tables.idempotency_keys

    async def lookup(
        self, session: AsyncSession, principal: Principal, key: str, request_fingerprint: str
    ) -> StoredResponse | None:
        row = (
            await session.execute(
                select(self._table).where(
                    self._table.c.principal == principal.key, self._table.c.key == key
                )
            )
        ).first()
        if row is None:
            return None
        if row.request_fingerprint != request_fingerprint:
            raise ProblemError(
                422,
                "Clé d'idempotence réutilisée",
                "Cette Idempotency-Key a déjà servi pour une requête différente.",
                problem="idempotency-key-reused",
                errors=[
                    FieldError("Idempotency-Key", "déjà utilisée avec un autre corps", "header")
                ],
            )
        return StoredResponse(row.status_code, row.response_body, row.location)

    async def remember(
        self,
        session: AsyncSession,
        principal: Principal,
        key: str,
        request_fingerprint: str,
        *,
        status_code: int,
        body: Any,
        location: str | None = None,
    ) -> None:
        await session.execute(
            self._table.insert().values(
                principal=principal.key,
                key=key,
                request_fingerprint=request_fingerprint,
                status_code=status_code,
                response_body=body,
                location=location,
                created_at=datetime.now(UTC),
            )
        )

"""``Idempotency-Key`` for POSTs that create: the first response is stored with the key in the same
transaction as the creation; a retry with the same key and body gets that response again, a retry
with the same key and another body is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.tokens import Principal
from shared.db.database import Database
from shared.db.tables import PlatformTables
from shared.domain.errors import Conflict, DomainError, NotFound
from shared.http.problems import FieldError, ProblemError
from shared.runtime import ServiceRuntime

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
            *self.remember_row(
                principal,
                key,
                request_fingerprint,
                status_code=status_code,
                body=body,
                location=location,
            )
        )

    def remember_row(
        self,
        principal: Principal,
        key: str,
        request_fingerprint: str,
        *,
        status_code: int,
        body: Any,
        location: str | None = None,
    ) -> tuple[Insert, dict[str, Any]]:
        """What :meth:`remember` executes: the key's ``INSERT`` and its parameters."""
        return self._table.insert(), {
            "principal": principal.key,
            "key": key,
            "request_fingerprint": request_fingerprint,
            "status_code": status_code,
            "response_body": body,
            "location": location,
            "created_at": datetime.now(UTC),
        }


Creation = Callable[[AsyncSession], Awaitable[tuple[Any, str]]]
#: Whether the caller may still see a stored response (re-checked before every replay).
ReplayCheck = Callable[[AsyncSession, StoredResponse], Awaitable[bool]]
#: A service's replay check: may ``principal`` still see what the stored ``Location`` names?
ServiceReplayCheck = Callable[[AsyncSession, Principal, str | None], Awaitable[bool]]
#: Writes the key's row (its ``INSERT`` and parameters) in the transaction, with whatever rows
#: the creation left to write (one hand-off for all of them).
KeyWriter = Callable[[AsyncSession, Insert, dict[str, Any]], Awaitable[None]]


def request_identity(
    request: Request, body: BaseModel | Mapping[str, Any] | None
) -> dict[str, Any]:
    """What identifies a creating request for its Idempotency-Key: method, path and body (the
    same fingerprint in every service)."""
    if isinstance(body, BaseModel):
        payload: Any = body.model_dump(mode="json")
    else:
        payload = dict(body) if body is not None else None
    return {"method": request.method, "path": request.url.path, "body": payload}


async def create_once(
    database: Database,
    tables: PlatformTables,
    principal: Principal,
    key: str,
    request: Any,
    create: Creation,
    *,
    on_conflict: DomainError | None = None,
    may_replay: ReplayCheck | None = None,
    look_up_first: bool = True,
    write_key: KeyWriter | None = None,
) -> Response:
    """Run ``create`` once per (caller, Idempotency-Key).

    ``create`` works in the transaction and returns the response body and its ``Location``; the
    first 201 is stored with the key in that same transaction, and a retry with the same key and
    request gets it again instead of a second resource. ``request`` identifies the request
    (:func:`request_identity`). When a concurrent request commits first, a unique constraint
    fails this one: if it stored the same key, its response is replayed; otherwise the clash is
    ``on_conflict`` (e.g. "a referral is already open") or a generic 409.

    A replay re-checks access: ``may_replay`` is asked, in a transaction, whether the caller
    may still see the stored response (the resource may have been shared away, the caller's
    rights changed since); if not, the replay is a 404 — the stored body is never sent.

    ``look_up_first=False`` saves the look-up of the key on the first request (one statement
    fewer on the hot path), for a ``create`` whose every effect is in the transaction: the
    creation is tried at once, and the key is looked up only when it fails — the key's row
    already stored (a retry: the unique constraint fails the insert of the key) or the creation
    refused (a retry whose resource now stands in the way, e.g. "a referral is already open").
    A stored response is then replayed (or the key refused for another body) exactly as when
    looked up first; a refusal with no stored key is raised as it is.

    ``write_key`` writes the key's row instead of :meth:`IdempotencyStore.remember`, for a
    ``create`` that left rows to write: it executes them and the key's ``INSERT`` together, in
    the same transaction (a failure is then handled as any other in the transaction).
    """
    store = IdempotencyStore(tables)
    request_fingerprint = fingerprint(request)
    try:
        async with database.transaction() as session:
            if look_up_first:
                stored = await store.lookup(session, principal, key, request_fingerprint)
                if stored is not None:
                    return await _replay(session, stored, may_replay)
            payload, location = await create(session)
            if write_key is None:
                await store.remember(
                    session,
                    principal,
                    key,
                    request_fingerprint,
                    status_code=201,
                    body=payload,
                    location=location,
                )
            else:
                await write_key(
                    session,
                    *store.remember_row(
                        principal,
                        key,
                        request_fingerprint,
                        status_code=201,
                        body=payload,
                        location=location,
                    ),
                )
    except IntegrityError as exc:
        async with database.transaction() as session:
            stored = await store.lookup(session, principal, key, request_fingerprint)
            if stored is not None:
                return await _replay(session, stored, may_replay)
        raise on_conflict or Conflict(
            "Requête concurrente en conflit (même clé ou même ressource); réessayez.",
            code="concurrent-request",
        ) from exc
    except (DomainError, ProblemError):
        if look_up_first:
            raise
        # Refused: a retry of a request already answered gets that answer, as if looked up first.
        async with database.reading() as session:
            stored = await store.lookup(session, principal, key, request_fingerprint)
            if stored is not None:
                return await _replay(session, stored, may_replay)
        raise
    return JSONResponse(payload, status_code=201, headers={"Location": location})


async def _replay(
    session: AsyncSession, stored: StoredResponse, may_replay: ReplayCheck | None
) -> JSONResponse:
    if may_replay is not None and not await may_replay(session, stored):
        raise NotFound("Ressource introuvable.")
    return stored.as_response()


async def create_idempotently(
    runtime: ServiceRuntime,
    principal: Principal,
    key: str,
    request: Request,
    body: BaseModel | Mapping[str, Any] | None,
    create: Creation,
    *,
    on_conflict: DomainError | None = None,
    may_replay: ReplayCheck | None = None,
    look_up_first: bool = True,
    write_key: KeyWriter | None = None,
) -> Response:
    """:func:`create_once` in a route: the service's store and tables, the request's identity.

    A replay re-checks access: ``may_replay``, else the service's own check installed on the app
    (``app.state.replay_check(session, principal, location) -> bool``, the service's access
    policy re-loading what the stored ``Location`` names)."""
    service_check: ServiceReplayCheck | None = getattr(request.app.state, "replay_check", None)
    if may_replay is None and service_check is not None:
        check = service_check

        async def service_replay(session: AsyncSession, stored: StoredResponse) -> bool:
            return await check(session, principal, stored.location)

        may_replay = service_replay
    return await create_once(
        runtime.database,
        runtime.tables,
        principal,
        key,
        request_identity(request, body),
        create,
        on_conflict=on_conflict,
        may_replay=may_replay,
        look_up_first=look_up_first,
        write_key=write_key,
    )

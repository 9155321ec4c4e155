"""What every router of the service needs: the runtime, the caller, idempotent creation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from referral.models import PLATFORM
from referral.settings import ReferralSettings
from referral.use_cases.queries import may_still_see
from shared.auth.tokens import Principal, Role
from shared.domain.errors import DomainError
from shared.http.app import RuntimeDep
from shared.http.idempotency import StoredResponse, create_once, request_identity
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

Counsellor = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR))]
Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]
CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]


def _settings(request: Request) -> ReferralSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


Runtime = RuntimeDep
Settings = Annotated[ReferralSettings, Depends(_settings)]

#: Creates the resource in the given transaction; returns the response body and its Location.
Creation = Callable[[AsyncSession], Awaitable[tuple[dict[str, Any], str]]]


async def create_idempotently(
    runtime: ServiceRuntime,
    principal: Principal,
    idempotency_key: str,
    request: Request,
    body: BaseModel,
    create: Creation,
    *,
    on_conflict: DomainError | None = None,
) -> Response:
    """Run ``create`` once per (caller, Idempotency-Key): the first 201 is stored with the key in
    the same transaction, and a retry gets it again instead of a second resource. A unique
    constraint that fails under a concurrent request is ``on_conflict`` (or a generic 409). A
    replay re-checks that the caller may still see what was created (404 otherwise)."""

    async def may_replay(session: AsyncSession, stored: StoredResponse) -> bool:
        return await may_still_see(session, principal, stored.location)

    return await create_once(
        runtime.database,
        PLATFORM,
        principal,
        idempotency_key,
        request_identity(request, body),
        create,
        on_conflict=on_conflict,
        may_replay=may_replay,
    )

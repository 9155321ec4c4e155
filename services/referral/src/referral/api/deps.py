"""What every router of the service needs: the runtime, the caller, idempotent creation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from referral.settings import ReferralSettings
from shared.auth.tokens import Principal, Role
from shared.http.app import RuntimeDep
from shared.http.security import require_roles

Counsellor = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR))]
Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]
CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]


async def _settings(request: Request) -> ReferralSettings:
    # ``async``: a plain ``def`` dependency would go through the thread pool on every request.
    return request.app.state.settings  # type: ignore[no-any-return]


Runtime = RuntimeDep
Settings = Annotated[ReferralSettings, Depends(_settings)]
OpsOrSteering = Annotated[Principal, Depends(require_roles(Role.OPS, Role.STEERING))]
#: The indicators: a counsellor counts their organisation's referrals, ops and steering all.
CounsellorOpsOrSteering = Annotated[
    Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS, Role.STEERING))
]

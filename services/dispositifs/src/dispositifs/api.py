"""Counsellor HTTP API of the dispositifs service (``/v1``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from dispositifs.models import KnownReferral
from shared.auth.tokens import Principal, Role
from shared.http.problems import ProblemError
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["referrals"])

CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


class KnownReferralOut(BaseModel):
    referral_id: uuid.UUID
    job_seeker_id: uuid.UUID
    agency_id: str
    network_id: str
    rome_code: str
    departement: str | None
    sent_at: datetime
    recorded_at: datetime


@router.get(
    "/referrals/{referral_id}",
    response_model=KnownReferralOut,
    summary="Orientation connue du service (pour y rattacher immersion, MRS, formation)",
)
async def get_known_referral(
    referral_id: uuid.UUID,
    principal: CounsellorOrOps,
    runtime: Annotated[ServiceRuntime, Depends(_runtime)],
) -> KnownReferral:
    async with runtime.session() as session:
        known = await session.get(KnownReferral, referral_id)
    if known is None or (
        principal.role is Role.COUNSELLOR and known.structure_code != principal.ft_structure
    ):
        raise ProblemError(404, "Ressource introuvable", f"Orientation {referral_id} inconnue ici.")
    return known

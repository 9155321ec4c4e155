"""Referrals this service knows of (from ``referral.sent``), to link schemes to them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from dispositifs.api.deps import CounsellorOrOps, Runtime
from dispositifs.models import KnownReferral
from dispositifs.use_cases import queries

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])


class KnownReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    referral_id: uuid.UUID
    job_seeker_id: uuid.UUID
    agency_id: str
    network_id: str
    rome_code: str
    departement: str | None
    sent_at: datetime
    recorded_at: datetime
    status: str | None
    placed_on: date | None
    placement_contract_type: str | None


@router.get(
    "/{referral_id}",
    response_model=KnownReferralOut,
    summary="Orientation connue du service (pour y rattacher immersion, MRS, formation)",
)
async def get_known_referral(
    referral_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> KnownReferral:
    async with runtime.session() as session:
        return await queries.get_known_referral(session, principal, referral_id)

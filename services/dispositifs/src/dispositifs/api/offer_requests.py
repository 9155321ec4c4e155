"""Agencies' requests for a PMSMP, an MRS or a POEI on a hard-to-fill offer (issue 16, item 5):
list them, take one on or dismiss it (``use_cases/offer_requests.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from dispositifs.api.deps import Counsellor, CounsellorOrOps, Runtime
from dispositifs.domain.offer_request import OfferRequestStatus
from dispositifs.models import OfferSchemeRequest
from dispositifs.use_cases import offer_requests as use

router = APIRouter(prefix="/v1/offer-scheme-requests", tags=["offres en tension"])


class OfferRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    offer_id: uuid.UUID
    scheme: str
    agency_id: str
    network_id: str
    title: str
    rome_code: str
    departement: str
    region_code: str
    hard_to_fill_source: str
    structure_code: str | None
    status: str
    requested_at: datetime
    decided_at: datetime | None


def _out(row: OfferSchemeRequest) -> dict[str, Any]:
    return OfferRequestOut.model_validate(row).model_dump(mode="json")


@router.get(
    "",
    response_model=list[OfferRequestOut],
    summary="Demandes d'agences (PMSMP, MRS, POEI) pour des offres en tension",
)
async def list_offer_requests(
    principal: CounsellorOrOps,
    runtime: Runtime,
    status: Annotated[OfferRequestStatus | None, Query()] = None,
    offer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> list[dict[str, Any]]:
    async with runtime.session() as session:
        rows = await use.offer_requests(session, principal, status=status, offer_id=offer_id)
    return [_out(row) for row in rows]


async def _decide(request_id: uuid.UUID, action: str, principal: Any, runtime: Any) -> Any:
    async with runtime.database.transaction() as session:
        row = await use.decide_offer_request(
            session, principal, use.DecideOfferRequest(request_id, action)
        )
        return _out(row)


@router.post("/{request_id}/take", response_model=OfferRequestOut, summary="Prendre en charge")
async def take(request_id: uuid.UUID, principal: Counsellor, runtime: Runtime) -> Any:
    return await _decide(request_id, "take", principal, runtime)


@router.post("/{request_id}/dismiss", response_model=OfferRequestOut, summary="Écarter")
async def dismiss(request_id: uuid.UUID, principal: Counsellor, runtime: Runtime) -> Any:
    return await _decide(request_id, "dismiss", principal, runtime)

"""What an agency asks for a referral addressed to it besides answering it: a training before
hiring (POEI), as it asks for an immersion (issue 12, item 6). Each request type is declared once,
in :data:`shared.contracts.agency_requests.REQUEST_TYPES`.

The request is checked as an answer is (received on the network's own response topic, about a
referral addressed to that network and agency) and refused the same way (``PermanentError``:
dead-lettered, audited, counted); a referral that is over takes no request. It does not move the
referral: it is republished on ``referral.events``, where the dispositifs service opens the
training request and the counsellor is told (notifications).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import ReferralStatus
from referral.models import Referral
from referral.use_cases.agency_answers import _addressed_referral
from referral.use_cases.common import publish, routing
from shared.contracts.agency import AgencyResponse
from shared.contracts.agency_requests import REQUEST_TYPE_OF
from shared.messaging.consumer import PermanentError

_COMMON_FIELDS = frozenset({"referral_id", "agency_id", "occurred_at", "comment"})


async def apply_agency_request(
    session: AsyncSession,
    request: AgencyResponse,
    *,
    network_id: str | None,
    event_id: str,
) -> Referral:
    """Check the agency's request and republish it for the dispositifs service, or raise
    :class:`PermanentError` (dead letter) saying why."""
    request_type = REQUEST_TYPE_OF[type(request)]
    referral = await _addressed_referral(session, request, network_id)
    if ReferralStatus(referral.status).is_final:
        raise PermanentError(
            f"referral {referral.id} is {referral.status}: it takes no more request",
            details={
                "referral_id": str(referral.id),
                "agency_id": request.agency_id,
                "kind": "not_allowed",
            },
        )
    own = request.model_dump(exclude=set(_COMMON_FIELDS))
    event = request_type.produces(
        **routing(referral),
        job_seeker_id=referral.job_seeker_id,
        rome_code=referral.rome_code,
        requested_at=request.occurred_at,
        **own,
    )
    occurred_at: datetime = request.occurred_at
    await publish(session, event, referral, occurred_at)
    return referral

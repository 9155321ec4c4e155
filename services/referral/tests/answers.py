"""Agency answers and dispositifs events applied straight through the use cases, in one
transaction each, as the consumers do (the consumer loop itself is tested over the real broker
in test_agency_responses.py and test_dispositifs_events.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from referral.domain import Scheme
from referral.models import Referral
from referral.use_cases.agency_answers import apply_agency_response
from referral.use_cases.scheme_events import SchemeFact, record_scheme_event
from shared.contracts import agency as a
from shared.contracts.vocabulary import ContractType, DeclineReason
from shared.db.database import Database

AGENCY = "agc-interim-nord-lille"


async def answer(database: Database, response: a.AgencyResponse) -> None:
    """As if received on the response topic of the network the referral is addressed to, at the
    moment the agency says it happened (the tests date their answers to build indicators)."""
    async with database.transaction() as session:
        referral = await session.get(Referral, response.referral_id)
        await apply_agency_response(
            session,
            response,
            network_id=referral.network_id if referral else None,
            event_id=str(uuid.uuid4()),
            received_at=response.occurred_at,
        )


def at(base: datetime, **delta: float) -> datetime:
    return base + timedelta(**delta)


def acknowledged(referral_id: uuid.UUID, when: datetime, agency: str = AGENCY) -> Any:
    return a.ReferralAcknowledged(referral_id=referral_id, agency_id=agency, occurred_at=when)


def accepted(referral_id: uuid.UUID, when: datetime, agency: str = AGENCY) -> Any:
    return a.ReferralAccepted(referral_id=referral_id, agency_id=agency, occurred_at=when)


def declined(
    referral_id: uuid.UUID, when: datetime, reason: DeclineReason, agency: str = AGENCY
) -> Any:
    return a.ReferralDeclined(
        referral_id=referral_id, agency_id=agency, occurred_at=when, reason=reason
    )


def interview(referral_id: uuid.UUID, when: datetime, agency: str = AGENCY) -> Any:
    return a.InterviewScheduled(
        referral_id=referral_id,
        agency_id=agency,
        occurred_at=when,
        interview_at=when + timedelta(days=2),
        location="Agence de Lille",
    )


def placed(
    referral_id: uuid.UUID,
    when: datetime,
    contract: ContractType,
    start: date,
    end: date | None = None,
    agency: str = AGENCY,
) -> Any:
    return a.PlacementStarted(
        referral_id=referral_id,
        agency_id=agency,
        occurred_at=when,
        contract_type=contract,
        start_date=start,
        expected_end_date=end,
        weekly_hours=35,
    )


async def scheme_event(
    database: Database,
    referral_id: uuid.UUID,
    event_type: str,
    scheme: Scheme,
    when: datetime,
    *,
    hired: bool | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    async with database.transaction() as session:
        await record_scheme_event(
            session,
            SchemeFact(
                referral_id=referral_id,
                event_id=str(uuid.uuid4()),
                event_type=event_type,
                scheme=scheme,
                scheme_ref=str(uuid.uuid4()),
                label=event_type,
                hired=hired,
                data=data or {},
                occurred_at=when,
            ),
        )


def now() -> datetime:
    return datetime.now(UTC)

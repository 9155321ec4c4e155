"""Closing the loop: a placement reported on a referral (``referral.status_changed`` to
``placed``) is what the immersion, the MRS evaluation or the training led to."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.domain.immersion import ImmersionStatus
from dispositifs.models import ImmersionConvention, TrainingEnrolment
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import mrs
from shared.contracts.vocabulary import ContractType

#: Conventions a later placement is credited to (the immersion took place).
_TOOK_PLACE = (ImmersionStatus.IN_PROGRESS.value, ImmersionStatus.COMPLETED.value)


async def record_placement(
    session: AsyncSession,
    referral_id: uuid.UUID,
    *,
    placed_on: date,
    contract_type: ContractType | None,
    settings: DispositifsSettings,
) -> dict[str, int]:
    contract = contract_type.value if contract_type else None
    conventions = await session.execute(
        update(ImmersionConvention)
        .where(
            ImmersionConvention.referral_id == referral_id,
            ImmersionConvention.status.in_(_TOOK_PLACE),
            ImmersionConvention.start_date <= placed_on,
        )
        .values(placed_on=placed_on, placement_contract_type=contract)
    )
    trainings = await session.execute(
        update(TrainingEnrolment)
        .where(
            TrainingEnrolment.referral_id == referral_id,
            TrainingEnrolment.start_date <= placed_on,
        )
        .values(placed_on=placed_on, placement_contract_type=contract)
    )
    candidates = await mrs.hired_through_placement(
        session, referral_id, placed_on=placed_on, contract_type=contract_type, settings=settings
    )
    return {
        "immersions": conventions.rowcount,  # type: ignore[attr-defined]
        "trainings": trainings.rowcount,  # type: ignore[attr-defined]
        "mrs_candidates": candidates,
    }

"""Job offers: ROME 4.0 code, territory, contract, hard-to-fill flag with its source."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import HardToFillSource
from referral.models import JobOffer
from referral.use_cases.common import check_rome_code, invalid, region_of
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import ContractType


@dataclass(frozen=True, slots=True)
class OfferInput:
    title: str
    rome_code: str
    departement: str
    contract_type: ContractType
    posts: int = 1
    hard_to_fill: bool = False
    hard_to_fill_source: HardToFillSource | None = None
    ft_offer_id: str | None = None


def _check_hard_to_fill(data: OfferInput) -> None:
    if data.hard_to_fill and data.hard_to_fill_source is None:
        raise invalid(
            "hard_to_fill_source",
            "source obligatoire pour un métier en tension",
            "Un métier en tension se déclare avec sa source (BMO, liste régionale, offre).",
        )
    if not data.hard_to_fill and data.hard_to_fill_source is not None:
        raise invalid(
            "hard_to_fill_source",
            "source sans métier en tension",
            "Une source n'a de sens que pour une offre en tension (hard_to_fill).",
        )


async def create_offer(session: AsyncSession, data: OfferInput, counsellor: Principal) -> JobOffer:
    check_rome_code(data.rome_code)
    region = region_of(data.departement)
    _check_hard_to_fill(data)
    if data.ft_offer_id is not None:
        existing = await session.scalar(
            select(JobOffer.id).where(JobOffer.ft_offer_id == data.ft_offer_id)
        )
        if existing is not None:
            raise invalid(
                "ft_offer_id",
                "offre France Travail déjà enregistrée",
                f"L'offre France Travail {data.ft_offer_id} est déjà enregistrée ({existing}).",
            )
    offer = JobOffer(
        id=uuid.uuid4(),
        title=data.title,
        rome_code=data.rome_code,
        departement=data.departement,
        region=region,
        contract_type=data.contract_type.value,
        posts=data.posts,
        hard_to_fill=data.hard_to_fill,
        hard_to_fill_source=data.hard_to_fill_source.value if data.hard_to_fill_source else None,
        ft_offer_id=data.ft_offer_id,
        created_by=counsellor.subject,
        structure_code=counsellor.organisation,
        created_at=datetime.now(UTC),
    )
    session.add(offer)
    await session.flush()
    return offer

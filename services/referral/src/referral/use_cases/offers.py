"""Job offers: ROME 4.0 code, territory, contract, hard-to-fill flag with its source.

A hard-to-fill offer is published, once, on the feed of every network with active agencies in
the offer's territory (its département) that know the trade (the offer's ROME code or its
domain, e.g. H29): ``coop.agency.hard_to_fill_offer_published.v1``, recorded in
``offer_publications`` so that only those networks' agencies may answer it
(:mod:`referral.use_cases.offer_answers`). Offers come from counsellors (``POST /v1/offers``) and
from France Travail's Offres d'emploi API (:func:`import_ft_offers`, the adapter
:mod:`referral.adapters.ft_offres`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import HardToFillSource
from referral.models import OUTBOX, Agency, AgencySpecialisation, JobOffer, OfferPublication
from referral.use_cases.common import check_rome_code, invalid, region_of
from referral.use_cases.rome_ranges import in_rome_domain
from shared import referentials
from shared.auth.tokens import Principal
from shared.contracts.territory import HardToFillOfferPublished
from shared.contracts.topics import agency_feed
from shared.contracts.vocabulary import ContractType
from shared.domain.errors import Forbidden


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
    commune: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class FtImportReport:
    received: int = 0
    created: int = 0
    already_known: int = 0
    published_to: tuple[str, ...] = ()


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
        commune=data.commune,
        latitude=data.latitude,
        longitude=data.longitude,
    )
    session.add(offer)
    await session.flush()
    if offer.hard_to_fill:
        await publish_hard_to_fill(session, offer)
    return offer


async def publish_hard_to_fill(session: AsyncSession, offer: JobOffer) -> list[str]:
    """Stage the offer on the feed of each network with active agencies in its département that
    know its trade (ROME code or domain); returns those networks. Done once per network."""
    knows_trade = select(AgencySpecialisation.agency_id).where(
        in_rome_domain(AgencySpecialisation.rome_code, offer.rome_code)
    )
    rows = await session.execute(
        select(Agency.network_id, Agency.id)
        .where(
            Agency.active.is_(True),
            Agency.departement == offer.departement,
            Agency.id.in_(knows_trade),
        )
        .order_by(Agency.network_id, Agency.id)
    )
    by_network: dict[str, list[str]] = {}
    for network_id, agency_id in rows:
        by_network.setdefault(network_id, []).append(agency_id)
    already = set(
        await session.scalars(
            select(OfferPublication.network_id).where(OfferPublication.offer_id == offer.id)
        )
    )
    now = datetime.now(UTC)
    published = []
    for network_id, agency_ids in by_network.items():
        if network_id in already:
            continue
        session.add(
            OfferPublication(
                offer_id=offer.id, network_id=network_id, agency_ids=agency_ids, published_at=now
            )
        )
        await OUTBOX.stage(
            session,
            HardToFillOfferPublished(
                offer_id=offer.id,
                network_id=network_id,
                agency_ids=agency_ids,
                title=offer.title,
                rome_code=offer.rome_code,
                rome_label=referentials.rome_label(offer.rome_code),
                departement=offer.departement,
                region=offer.region,
                contract_type=offer.contract_type,
                posts=offer.posts,
                hard_to_fill_source=offer.hard_to_fill_source or "",
                ft_offer_id=offer.ft_offer_id,
                published_at=now,
            ),
            subject=f"offers/{offer.id}",
            topic=agency_feed(network_id).name,
            occurred_at=now,
        )
        published.append(network_id)
    await session.flush()
    return published


async def import_ft_offers(
    session: AsyncSession, offers: Sequence[OfferInput], principal: Principal
) -> FtImportReport:
    """Offers read from France Travail's API (ops, or the periodic sync): the new ones are
    recorded (and the hard-to-fill ones published); the ones already known are left as they
    are (idempotent on ``ft_offer_id``)."""
    if not access.may_manage_directory(principal):
        raise Forbidden("Seuls les ops importent les offres France Travail.")
    ids = [o.ft_offer_id for o in offers if o.ft_offer_id]
    known = set(
        await session.scalars(select(JobOffer.ft_offer_id).where(JobOffer.ft_offer_id.in_(ids)))
    )
    created = 0
    networks: set[str] = set()
    for data in offers:
        if data.ft_offer_id is None or data.ft_offer_id in known:
            continue
        known.add(data.ft_offer_id)
        offer = await create_offer(session, data, principal)
        created += 1
        networks.update(
            set(
                await session.scalars(
                    select(OfferPublication.network_id).where(OfferPublication.offer_id == offer.id)
                )
            )
        )
    return FtImportReport(
        received=len(offers),
        created=created,
        already_known=len(offers) - created,
        published_to=tuple(sorted(networks)),
    )

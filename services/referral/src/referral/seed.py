"""Demo data for ``make up``: a few agencies of several networks. Safe to run twice."""

from __future__ import annotations

from referral.models import Agency
from referral.settings import ReferralSettings
from shared.db.database import Database

DEMO_AGENCIES = [
    # id, name, network, SIRET (Luhn-valid), département, contact
    (
        "agc-interim-nord-lille",
        "Intérim Nord — Lille",
        "interim-nord",
        "73282932000074",
        "59",
        "lille@interim-nord.example",
    ),
    (
        "agc-interim-nord-arras",
        "Intérim Nord — Arras",
        "interim-nord",
        "44306184100047",
        "62",
        "arras@interim-nord.example",
    ),
    (
        "agc-travail-plus-lyon",
        "Travail Plus — Lyon 3e",
        "travail-plus",
        "55208131766522",
        "69",
        "lyon3@travail-plus.example",
    ),
    (
        "agc-travail-plus-marseille",
        "Travail Plus — Marseille",
        "travail-plus",
        "54205118000066",
        "13",
        "marseille@travail-plus.example",
    ),
    (
        "agc-emploi-ouest-rennes",
        "Emploi Ouest — Rennes",
        "emploi-ouest",
        "35600000000048",
        "35",
        "rennes@emploi-ouest.example",
    ),
]


async def seed_demo(settings: ReferralSettings) -> str:
    database = Database(settings.database_url)
    created = 0
    try:
        async with database.transaction() as session:
            for agency_id, name, network, siret, departement, email in DEMO_AGENCIES:
                if await session.get(Agency, agency_id) is None:
                    session.add(
                        Agency(
                            id=agency_id,
                            name=name,
                            network_id=network,
                            siret=siret,
                            departement=departement,
                            email=email,
                        )
                    )
                    created += 1
    finally:
        await database.dispose()
    return f"{created} demo agencies added ({len(DEMO_AGENCIES) - created} already there)"

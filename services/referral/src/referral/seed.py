"""Demo data for ``make up``: an agency directory of several networks with agencies in every
région, offers in hard-to-fill trades, a few job seekers. Safe to run twice (natural keys:
agency id, France Travail offer id, France Travail identifier)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import luhn

from referral.domain import HardToFillSource, Scheme
from referral.domain.conventions import Axis, ConventionScope, ConventionTerms
from referral.models import Agency, AgencySpecialisation, Convention, JobOffer, JobSeeker, Referral
from referral.settings import ReferralSettings
from referral.use_cases.agency_answers import apply_agency_response
from referral.use_cases.conventions import SaveConvention, save_convention
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.networks import register_network
from referral.use_cases.referrals import SendReferral, send_referral
from referral.use_cases.scheme_events import SchemeFact, record_scheme_event
from shared import referentials
from shared.auth.tokens import Principal, Role
from shared.contracts import agency as agency_answers
from shared.contracts.vocabulary import ContractType
from shared.db.database import Database

#: Trades each demo network specialises in (ROME 4.0 codes).
NETWORK_TRADES = {
    "interim-nord": ("H2913", "H2909", "N1103", "I1304", "H3302"),
    "travail-plus": ("N4101", "N4105", "N1103", "K2204"),
    "emploi-ouest": ("J1501", "K1302", "G1602", "G1603"),
    "batipro-interim": ("F1703", "F1602", "F1603", "F1610"),
    "sante-services-emploi": ("J1501", "J1506", "K1302"),
}

# id, name, network, SIRET (Luhn-valid), département, contact. The first five predate the seed's
# growth: tests and demos refer to them.
DEMO_AGENCIES = [
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

# One more agency at least in every région (network, city, département).
_REGIONAL = [
    ("batipro-interim", "Paris 12e", "75"),
    ("sante-services-emploi", "Saint-Denis", "93"),
    ("travail-plus", "Orléans", "45"),
    ("batipro-interim", "Dijon", "21"),
    ("emploi-ouest", "Rouen", "76"),
    ("interim-nord", "Strasbourg", "67"),
    ("emploi-ouest", "Nantes", "44"),
    ("sante-services-emploi", "Bordeaux", "33"),
    ("batipro-interim", "Toulouse", "31"),
    ("sante-services-emploi", "Lyon 7e", "69"),
    ("batipro-interim", "Marseille", "13"),
    ("batipro-interim", "Ajaccio", "2A"),
    ("travail-plus", "Pointe-à-Pitre", "971"),
    ("sante-services-emploi", "Fort-de-France", "972"),
    ("batipro-interim", "Cayenne", "973"),
    ("travail-plus", "Saint-Denis de La Réunion", "974"),
    ("sante-services-emploi", "Mamoudzou", "976"),
]

_NETWORK_NAMES = {
    "interim-nord": "Intérim Nord",
    "travail-plus": "Travail Plus",
    "emploi-ouest": "Emploi Ouest",
    "batipro-interim": "BatiPro Intérim",
    "sante-services-emploi": "Santé Services Emploi",
}


def demo_siret(number: int) -> str:
    """A Luhn-valid SIRET (valid SIREN too) for demo agencies: ``9`` + number, check digits."""
    siren = f"9{number:07d}"
    siren += luhn.calc_check_digit(siren)
    nic = f"{number % 10000:04d}"
    return siren + nic + luhn.calc_check_digit(siren + nic)


def _slug(text: str) -> str:
    table = str.maketrans("àâéèêëîïôöùûüç", "aaeeeeiioouuuc")
    cleaned = text.lower().translate(table)
    return "-".join("".join(c if c.isalnum() else " " for c in cleaned).split())


def demo_agencies() -> list[tuple[str, str, str, str, str, str]]:
    agencies = list(DEMO_AGENCIES)
    for index, (network, city, departement) in enumerate(_REGIONAL, start=1):
        slug = _slug(city)
        agencies.append(
            (
                f"agc-{network}-{slug}",
                f"{_NETWORK_NAMES[network]} — {city}",
                network,
                demo_siret(index),
                departement,
                f"{slug}@{network}.example",
            )
        )
    return agencies


# title, ROME, département, contract, posts, hard-to-fill source, France Travail offer id
DEMO_OFFERS = [
    ("Soudeur / soudeuse MIG-MAG", "H2913", "59", ContractType.MISSION, 4, "bmo", "DEMO0001"),
    ("Conducteur PL (C/CE)", "N4101", "69", ContractType.CDI_INTERIMAIRE, 2, "bmo", "DEMO0002"),
    ("Aide-soignant(e) en EHPAD", "J1501", "35", ContractType.CDD, 3, "offer_flag", "DEMO0003"),
    ("Maçon(ne) gros œuvre", "F1703", "31", ContractType.MISSION, 5, "regional_list", "DEMO0004"),
    ("Électricien(ne) du bâtiment", "F1602", "75", ContractType.CDI, 1, "bmo", "DEMO0005"),
    ("Infirmier(ère) de nuit", "J1506", "974", ContractType.CDD, 2, "offer_flag", "DEMO0006"),
    (
        "Commis de cuisine (saison)",
        "G1602",
        "2A",
        ContractType.CDD_SAISONNIER,
        6,
        "bmo",
        "DEMO0007",
    ),
    ("Préparateur de commandes", "N1103", "62", ContractType.MISSION, 10, None, "DEMO0008"),
]

# FT identifier, first name, last name, birth date, département, RQTH, BRSA, DELD, QPV
DEMO_JOB_SEEKERS = [
    ("1000001A", "Camille", "Martin", date(2003, 4, 12), "59", False, False, False, True),
    ("1000002B", "Karim", "Benali", date(1969, 9, 3), "69", True, False, True, False),
    ("1000003C", "Sophie", "Le Gall", date(1988, 1, 25), "35", False, True, False, False),
    ("10000040001", "Jean-Marc", "Payet", date(1975, 6, 30), "974", False, True, True, False),
]


async def seed_demo(settings: ReferralSettings) -> str:
    database = Database(settings.database_url)
    counts = {"agencies": 0, "offers": 0, "job_seekers": 0, "conventions": 0}
    now = datetime.now(UTC)
    try:
        async with database.transaction() as session:
            for network_id, network_name in _NETWORK_NAMES.items():
                await register_network(session, network_id, network_name)
            for agency_id, name, network, siret, departement, email in demo_agencies():
                if await session.get(Agency, agency_id) is not None:
                    continue
                session.add(
                    Agency(
                        id=agency_id,
                        name=name,
                        network_id=network,
                        siret=siret,
                        departement=departement,
                        region=referentials.region_of(departement),
                        email=email,
                        active=True,
                        specialisations=[
                            AgencySpecialisation(rome_code=code) for code in NETWORK_TRADES[network]
                        ],
                    )
                )
                counts["agencies"] += 1
            for title, rome, dep, contract, posts, source, ft_id in DEMO_OFFERS:
                known = await session.scalar(
                    select(JobOffer.id).where(JobOffer.ft_offer_id == ft_id)
                )
                if known is not None:
                    continue
                session.add(
                    JobOffer(
                        id=uuid.uuid4(),
                        title=title,
                        rome_code=rome,
                        departement=dep,
                        region=referentials.region_of(dep),
                        contract_type=contract.value,
                        posts=posts,
                        hard_to_fill=source is not None,
                        hard_to_fill_source=HardToFillSource(source).value if source else None,
                        ft_offer_id=ft_id,
                        created_by="seed",
                        created_at=now,
                    )
                )
                counts["offers"] += 1
            for ft_id, first, last, born, dep, rqth, brsa, deld, qpv in DEMO_JOB_SEEKERS:
                known = await session.scalar(
                    select(JobSeeker.id).where(JobSeeker.ft_identifier == ft_id)
                )
                if known is not None:
                    continue
                session.add(
                    JobSeeker(
                        id=uuid.uuid4(),
                        ft_identifier=ft_id,
                        first_name=first,
                        last_name=last,
                        birth_date=born,
                        departement=dep,
                        rqth=rqth,
                        brsa=brsa,
                        deld=deld,
                        qpv=qpv,
                        created_at=now,
                    )
                )
                counts["job_seekers"] += 1
            await session.flush()  # the networks, before the conventions check them
            counts["conventions"] = await seed_conventions(session, now.date())
    finally:
        await database.dispose()
    return "demo data added: " + ", ".join(f"{n} {what}" for what, n in counts.items())


# -- steering (issue 16): conventions with targets, and demo activity for ``make up`` -----------

#: name, scope, région, signatory networks, targets (the Axis values).
DEMO_CONVENTIONS = [
    (
        "Convention régionale Hauts-de-France",
        "regional",
        "32",
        ("interim-nord",),
        {
            "referrals": 40,
            "placements": 12,
            "durable_placements": 8,
            "immersions": 8,
            "mrs_recruits": 6,
            "training_starts": 6,
            "priority_public_share": 40,
        },
    ),
    (
        "Convention nationale France Travail × Prism'emploi",
        "national",
        None,
        (),
        {"referrals": 400, "placements": 120, "mrs_recruits": 60, "training_starts": 60},
    ),
]


async def seed_conventions(session: AsyncSession, today: date) -> int:
    """The demo conventions over the current year, each once (by name)."""
    added = 0
    for name, scope, region, networks, targets in DEMO_CONVENTIONS:
        if await session.scalar(select(Convention.id).where(Convention.name == name)):
            continue
        terms = ConventionTerms(
            name=name,
            scope=ConventionScope(scope),
            region=region,
            period_start=date(today.year, 1, 1),
            period_end=date(today.year, 12, 31),
            networks=networks,
            targets={Axis(axis): value for axis, value in targets.items()},
        )
        await save_convention(session, SaveConvention(terms, datetime.now(UTC)), SEED_STEERING)
        added += 1
    return added


SEED_STEERING = Principal(subject="seed", role=Role.STEERING)
#: The demo counsellor of a France Travail agency in Lille.
SEED_COUNSELLOR = Principal(
    subject="seed:conseiller.lille", role=Role.COUNSELLOR, ft_structure="59350"
)
#: (agency, how many referrals, of which placed in CDI, MRS recruits, POEC starts, immersions).
_DEMO_ACTIVITY = [
    ("agc-interim-nord-lille", 17, 6, 4, 3, 4),
    ("agc-interim-nord-arras", 10, 3, 2, 3, 2),
    ("agc-travail-plus-lyon", 8, 5, 0, 0, 0),
]


async def seed_steering_activity(database: Database) -> int:
    """Demo referrals, placements and scheme events so that ``make up``'s dashboard shows
    progress above the secrecy threshold: through the use cases, as the consumers apply them.
    Once only (by the first demo job seeker's identifier)."""
    if await _seen(database, "9000001A"):
        return 0
    created = 0
    for agency, count, placed, mrs, poec, immersions in _DEMO_ACTIVITY:
        for index in range(count):
            created += 1
            async with database.transaction() as session:
                referral = await send_referral(
                    session,
                    SendReferral(
                        agency_id=agency,
                        message="Orientation de démonstration.",
                        job_seeker=JobSeekerInput(
                            ft_identifier=f"9{created:06d}A",
                            first_name="Démo",
                            last_name=f"Personne {created}",
                            birth_date=date(1970 + (created * 7) % 36, 1 + created % 12, 15),
                            rqth=created % 4 == 0,
                            brsa=created % 5 == 0,
                        ),
                        rome_code="H2913",
                    ),
                    SEED_COUNSELLOR,
                )
                referral_id, sent = referral.id, referral.created_at
            later = sent + timedelta(hours=2)
            if index < placed:
                for answer in (
                    agency_answers.ReferralAccepted(
                        referral_id=referral_id, agency_id=agency, occurred_at=later
                    ),
                    agency_answers.PlacementStarted(
                        referral_id=referral_id,
                        agency_id=agency,
                        occurred_at=later + timedelta(hours=1),
                        contract_type=ContractType.CDI,
                        start_date=later.date() + timedelta(days=7),
                        weekly_hours=35,
                    ),
                ):
                    await _apply(database, answer)
            elif index < placed + mrs:
                await _scheme(
                    database, referral_id, "coop.mrs.evaluated.v1", Scheme.MRS, later, hired=True,
                    data={"positive": True, "hired": True},
                )  # fmt: skip
            elif index < placed + mrs + poec:
                await _scheme(
                    database, referral_id, "coop.training.enrolled.v1", Scheme.POEC, later
                )
            elif index < placed + mrs + poec + immersions:
                await _scheme(
                    database, referral_id, "coop.immersion.validated.v1", Scheme.IMMERSION, later
                )
    return created


async def _seen(database: Database, ft_identifier: str) -> bool:
    async with database.transaction() as session:
        found = await session.scalar(
            select(JobSeeker.id).where(JobSeeker.ft_identifier == ft_identifier)
        )
    return found is not None


async def _apply(database: Database, response: agency_answers.AgencyResponse) -> None:
    async with database.transaction() as session:
        referral = await session.get(Referral, response.referral_id)
        await apply_agency_response(
            session,
            response,
            network_id=referral.network_id if referral else None,
            event_id=str(uuid.uuid4()),
            received_at=response.occurred_at,
        )


async def _scheme(
    database: Database,
    referral_id: uuid.UUID,
    event_type: str,
    scheme: Scheme,
    when: datetime,
    *,
    hired: bool | None = None,
    data: dict[str, object] | None = None,
) -> None:
    async with database.transaction() as session:
        await record_scheme_event(
            session,
            SchemeFact(
                referral_id=referral_id,
                event_id=f"seed-{uuid.uuid4()}",
                event_type=event_type,
                scheme=scheme,
                scheme_ref=f"seed-{referral_id}",
                label="Démonstration",
                hired=hired,
                data=dict(data or {}),
                occurred_at=when,
            ),
        )


async def seed_make_up(settings: ReferralSettings) -> str:
    """What ``python -m referral seed`` (and so ``make up``) adds: the demo directory, offers and
    job seekers and conventions (:func:`seed_demo`), and the steering demo's activity when
    ``demo_steering_activity`` is set (``make up`` does; the end-to-end tests do not)."""
    said = await seed_demo(settings)
    if not settings.demo_steering_activity:
        return said
    database = Database(settings.database_url)
    try:
        referrals = await seed_steering_activity(database)
    finally:
        await database.dispose()
    return f"{said}, {referrals} demo referrals (steering dashboard)"

"""The agency directory at the network's real scale (issue 16, "Done when"): 10,000 agencies
imported through the API finish (no timing asserted: the bench measures), and agency suggestion
over them gives the ranking — and the scores and explanations — that scoring every agency of the
directory in Python gives, for several trades, places and limits."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from stdnum import luhn

from referral.domain.suggestion import Point, Prior, Weights, rank
from referral.models import JobSeeker, Referral
from referral.use_cases.suggestions import SuggestAgencies, departement_centre, suggest_agencies
from shared import referentials
from shared.auth.tokens import Principal, Role

from ..conftest import bearer
from .test_suggestion_candidates import _every_agency

AGENCIES = 10_000
OPS = bearer(Role.OPS)
COUNSELLOR = Principal("conseiller", Role.COUNSELLOR, {"ft_structure": "59350"})
HEADER = "id;name;siret;departement;commune;postcode;latitude;longitude;email;rome_codes"
#: Few domains, so that each holds hundreds of agencies (and many equal scores).
TRADES = ["H2913", "H2909", "H2914", "N1103", "N1101", "N4101", "K1302", "K1304", "J1501"]


def _siret(n: int) -> str:
    siren = f"6{n:07d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}{n % 10000:04d}"
    return body + luhn.calc_check_digit(body)


def _directory_csv() -> str:
    rng = random.Random(1016)
    departements = [
        code for code in referentials.departements() if len(code) == 2 or code in ("2A", "2B")
    ]
    lines = [HEADER]
    for n in range(AGENCIES):
        departement = rng.choice(departements)
        postcode = ("20" if departement in ("2A", "2B") else departement) + "000"
        placed = n % 25 != 0  # one in 25 without coordinates: placed by département and région
        lines.append(
            ";".join(
                (
                    f"agc-scale-{n:05d}",
                    f"Agence échelle {n}",
                    _siret(n),
                    departement,
                    f"Commune {n % 311}",
                    postcode,
                    f"{rng.uniform(42.5, 51.0):.5f}" if placed else "",
                    f"{rng.uniform(-4.5, 8.0):.5f}" if placed else "",
                    f"agence{n}@echelle.example",
                    " ".join(rng.sample(TRADES, rng.randint(1, 3))),
                )
            )
        )
    return "\n".join(lines) + "\n"


async def _past_results(app: FastAPI) -> None:
    """Answered referrals of varied outcomes for 600 of the agencies."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    async with app.state.runtime.database.transaction() as session:
        job_seeker = await session.scalar(select(JobSeeker.id).limit(1))
        assert job_seeker is not None
        for n in rng.sample(range(AGENCIES), 600):
            for trade in rng.sample(TRADES, rng.randint(1, 4)):  # one per trade: a unique key
                outcome = rng.random()
                session.add(
                    Referral(
                        job_seeker_id=job_seeker,
                        agency_id=f"agc-scale-{n:05d}",
                        network_id="reseau-echelle",
                        rome_code=trade,
                        message="Échelle",
                        status="placed" if outcome < 0.3 else "declined",
                        counsellor_id="conseiller",
                        accepted_at=now if outcome < 0.5 else None,
                        declined_at=now if outcome >= 0.5 else None,
                        placed_at=now if outcome < 0.3 else None,
                        created_at=now,
                        updated_at=now,
                    )
                )


async def test_a_10000_agency_directory_imports_and_suggestion_ranks_as_scoring_every_agency(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.put(
        "/v1/networks/reseau-echelle/agencies",
        content=_directory_csv().encode(),
        headers={**OPS, "Content-Type": "text/csv"},
        timeout=600,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["created"], report["rejected"]) == (AGENCIES, AGENCIES, [])

    await _past_results(app)
    reference = await _every_agency(app)
    assert len(reference) >= AGENCIES
    weights, prior = Weights(), Prior()
    database = app.state.runtime.database
    cases = [
        ("H2913", "59", Point(50.6292, 3.0573), 10),  # Lille
        ("N1103", "13", Point(43.2965, 5.3698), 10),  # Marseille
        ("K1302", "29", Point(48.3904, -4.4861), 3),  # Brest, at the directory's edge
        ("J1501", "75", None, 10),  # from the département's centre
        ("H2909", "2A", None, 25),
        ("N4101", "971", None, 10),  # no geolocated agency there: by département and région
    ]
    for rome_code, departement, origin, limit in cases:
        async with database.transaction() as session:
            ranked = await suggest_agencies(
                session,
                COUNSELLOR,
                SuggestAgencies(
                    rome_code=rome_code, departement=departement, limit=limit, origin=origin
                ),
                weights=weights,
                prior=prior,
            )
            centre = origin or await departement_centre(session, departement)
        expected = rank(
            reference,
            rome_code=rome_code,
            departement=departement,
            region=referentials.region_of(departement) or "",
            weights=weights,
            prior=prior,
            limit=limit,
            origin=centre,
        )
        assert len(ranked) == limit
        # The same agencies in the same order, with the same scores and explanations.
        assert ranked == expected, (rome_code, departement)

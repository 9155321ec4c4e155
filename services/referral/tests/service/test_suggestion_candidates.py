"""Agency suggestion over a large directory scores only its candidates (issue 16, item 6): the
nearby agencies pre-filtered in SQL by the radius's bounding box, and among the agencies that know
the trade far away only the best ``limit`` by their SQL score — a fixed number of statements, and
the same ranking as scoring every agency of the directory."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from referral.domain.suggestion import AgencyRecord, Point, Prior, Weights, rank
from referral.models import Agency, AgencySpecialisation, JobSeeker, Referral
from referral.use_cases import suggestions
from referral.use_cases.suggestions import SuggestAgencies, suggest_agencies
from shared.auth.tokens import Principal, Role

COUNSELLOR = Principal("conseiller", Role.COUNSELLOR, {"ft_structure": "59350"})
#: Lille: the origin of the search.
LILLE = Point(50.6292, 3.0573)
NEAR, FAR_KNOWING, FAR_OTHER, UNPLACED_NEAR = 12, 80, 40, 3


async def _directory(app: FastAPI) -> None:
    """Near Lille: 12 geolocated agencies (various trades) and 3 without coordinates in
    Hauts-de-France; in Brittany and the south-west: 80 agencies knowing the H29 domain (some
    H2913 itself) with past results, and 40 of other trades."""
    rng = random.Random(16)
    now = datetime.now(UTC)
    async with app.state.runtime.database.transaction() as session:
        job_seeker = await session.scalar(select(JobSeeker.id).limit(1))
        assert job_seeker is not None

        def agency(n: int, departement: str, region: str, point: Point | None, codes: list[str]):
            session.add(
                Agency(
                    id=f"agc-sc-{n:05d}",
                    name=f"Agence {n}",
                    network_id="net-sc",
                    siret=f"{90000000000000 + n}",
                    departement=departement,
                    region=region,
                    latitude=None if point is None else point.latitude,
                    longitude=None if point is None else point.longitude,
                )
            )
            for code in codes:
                session.add(AgencySpecialisation(agency_id=f"agc-sc-{n:05d}", rome_code=code))

        n = 0
        for _ in range(NEAR):
            n += 1
            point = Point(
                LILLE.latitude + rng.uniform(-0.4, 0.4), LILLE.longitude + rng.uniform(-0.5, 0.5)
            )
            agency(n, "59", "32", point, [rng.choice(["H2913", "H2909", "N1103", "K1302"])])
        for _ in range(UNPLACED_NEAR):
            n += 1
            agency(n, "62", "32", None, [rng.choice(["H2913", "N4101"])])
        await session.flush()
        for index in range(FAR_KNOWING + FAR_OTHER):
            n += 1
            knows = index < FAR_KNOWING
            point = Point(rng.uniform(43.0, 48.5), rng.uniform(-4.5, 0.5))
            agency(
                n,
                "35",
                "53",
                point,
                [rng.choice(["H2913", "H2909", "H2914"])] if knows else ["N1103"],
            )
            await session.flush()
            # Past results of varied quality (answered, accepted, placed) for the far agencies.
            trades = ["H2913", "H2909", "H2914", "N1103", "K1302", "N4101"]
            for trade in trades[: rng.randint(0, 6)]:
                outcome = rng.random()
                session.add(
                    Referral(
                        job_seeker_id=job_seeker,
                        agency_id=f"agc-sc-{n:05d}",
                        network_id="net-sc",
                        rome_code=trade,
                        message="Bench",
                        status="placed" if outcome < 0.3 else "declined",
                        counsellor_id="conseiller",
                        accepted_at=now if outcome < 0.5 else None,
                        declined_at=now if outcome >= 0.5 else None,
                        placed_at=now if outcome < 0.3 else None,
                        created_at=now,
                        updated_at=now,
                    )
                )


async def _every_agency(app: FastAPI) -> list[AgencyRecord]:
    """The whole active directory as records, with their results (the exhaustive reference)."""
    async with app.state.runtime.database.transaction() as session:
        codes: dict[str, set[str]] = {}
        for agency_id, code in await session.execute(
            select(AgencySpecialisation.agency_id, AgencySpecialisation.rome_code)
        ):
            codes.setdefault(agency_id, set()).add(code)
        results: dict[str, list[int]] = {}
        for referral in await session.scalars(select(Referral)):
            line = results.setdefault(referral.agency_id, [0, 0, 0])
            answered = referral.accepted_at or referral.declined_at or referral.placed_at
            line[0] += 1 if answered else 0
            line[1] += 1 if (referral.accepted_at or referral.placed_at) else 0
            line[2] += 1 if referral.placed_at else 0
        return [
            AgencyRecord(
                id=a.id,
                name=a.name,
                network_id=a.network_id,
                departement=a.departement,
                region=a.region,
                rome_codes=frozenset(codes.get(a.id, ())),
                latitude=a.latitude,
                longitude=a.longitude,
                answered=results.get(a.id, [0, 0, 0])[0],
                accepted=results.get(a.id, [0, 0, 0])[1],
                placed=results.get(a.id, [0, 0, 0])[2],
            )
            for a in await session.scalars(select(Agency).where(Agency.active.is_(True)))
        ]


async def test_suggestion_scores_only_its_candidates(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _directory(app)
    database = app.state.runtime.database
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    loaded: list[int] = []
    original = suggestions._candidate_agencies

    async def counting(*args: Any, **kwargs: Any) -> list[AgencyRecord]:
        records = await original(*args, **kwargs)
        loaded.append(len(records))
        return records

    weights, prior = Weights(), Prior()
    reference = await _every_agency(app)
    for origin, limit in ((LILLE, 10), (None, 10), (LILLE, 3)):
        statements.clear()
        loaded.clear()
        engine = database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        monkeypatch.setattr(suggestions, "_candidate_agencies", counting)
        try:
            async with database.transaction() as session:
                ranked = await suggest_agencies(
                    session,
                    COUNSELLOR,
                    SuggestAgencies(
                        rome_code="H2913", departement="59", limit=limit, origin=origin
                    ),
                    weights=weights,
                    prior=prior,
                )
        finally:
            monkeypatch.setattr(suggestions, "_candidate_agencies", original)
            event.remove(engine, "before_cursor_execute", count)
        # Same ranking as scoring every agency of the directory.
        centre = origin
        if centre is None:
            placed = [r for r in reference if r.departement == "59" and r.latitude is not None]
            centre = Point(
                sum(r.latitude or 0 for r in placed) / len(placed),
                sum(r.longitude or 0 for r in placed) / len(placed),
            )
        expected = rank(
            reference,
            rome_code="H2913",
            departement="59",
            region="32",
            weights=weights,
            prior=prior,
            limit=limit,
            origin=centre,
        )
        assert [s["agency_id"] for s in ranked] == [s["agency_id"] for s in expected]
        assert [s["score"] for s in ranked] == [s["score"] for s in expected]
        # Only the candidates were loaded: the nearby ones (the demo's Hauts-de-France agencies
        # and ours) and at most 2 × limit of the 80 far agencies knowing the trade's domain,
        # never the whole directory (nor the 40 far agencies of another trade).
        nearby = sum(
            1
            for r in reference
            if (r.latitude is None and r.region == "32")
            or (r.latitude is not None and abs(r.latitude - centre.latitude) < 1)
        )
        assert len(loaded) == 1
        assert loaded[0] <= nearby + 2 * limit, (loaded, nearby)
        assert loaded[0] <= len(reference) - FAR_OTHER - FAR_KNOWING + 2 * limit
        # A bounded number of statements, whatever the directory's size: the département's
        # centre (without an origin), the nearby agencies knowing the domain, their results, the
        # best far ones (and those just under the cut), the trades, the nearby others when they
        # could still be shown.
        assert len(statements) <= (6 if origin is not None else 7), statements

"""Explained matching's scoring (issue 16, item 7): plain Python."""

from __future__ import annotations

from referral.domain.matching import (
    MatchWeights,
    OfferRecord,
    SeekerRecord,
    offers_for_seeker,
    seekers_for_offer,
)
from referral.domain.suggestion import Point

OFFER = OfferRecord(id="o1", title="Soudeur", rome_code="H2913", departement="59", region="32")


def test_placed_or_already_referred_job_seekers_are_left_out() -> None:
    seekers = [
        SeekerRecord(id="a", departement="59", region="32", trades=frozenset({"H2913"})),
        SeekerRecord(id="b", departement="59", region="32", placed=True),
        SeekerRecord(id="c", departement="59", region="32", referred_offers=frozenset({"o1"})),
    ]
    ranked = seekers_for_offer(OFFER, seekers, weights=MatchWeights(), radius_km=100, limit=10)
    assert [m["job_seeker_id"] for m in ranked] == ["a"]


def test_a_scheme_success_in_the_domain_is_the_strongest_pathway() -> None:
    seeker = SeekerRecord(
        id="a", departement="13", region="93", scheme_successes=frozenset({"H2909"})
    )
    (match,) = seekers_for_offer(OFFER, [seeker], weights=MatchWeights(), radius_km=100, limit=1)
    parts = {p["name"]: p for p in match["parts"]}
    assert parts["pathway"]["value"] == 1.0
    assert parts["mobility"]["explanation"] == "hors de la région de l'offre"


def test_offers_nearby_rank_by_distance_and_far_ones_are_left_out() -> None:
    seeker = SeekerRecord(id="a", departement="59", region="32", place=Point(50.63, 3.06))
    near = OfferRecord(
        id="near",
        title="t",
        rome_code="N1103",
        departement="59",
        region="32",
        place=Point(50.69, 3.17),
    )
    far = OfferRecord(
        id="far",
        title="t",
        rome_code="N1103",
        departement="80",
        region="32",
        place=Point(49.89, 2.30),
    )
    ranked = offers_for_seeker(seeker, [far, near], weights=MatchWeights(), radius_km=50, limit=5)
    assert [o["offer_id"] for o in ranked] == ["near"]
    assert ranked[0]["parts"][1]["explanation"].startswith("à ")

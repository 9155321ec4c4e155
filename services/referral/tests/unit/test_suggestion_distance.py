"""Proximity by distance in the agency suggestion (issue 16, item 6): haversine, the bounding
box that prefilters candidates, and the ranking across a régional border."""

from __future__ import annotations

import pytest

from referral.domain.suggestion import (
    AgencyRecord,
    Point,
    Prior,
    Weights,
    bounding_box,
    haversine_km,
    rank,
)

PARIS = Point(48.8566, 2.3522)
LYON = Point(45.7640, 4.8357)


def test_haversine_gives_the_great_circle_distance() -> None:
    assert haversine_km(PARIS, LYON) == pytest.approx(392, abs=3)
    assert haversine_km(PARIS, PARIS) == 0
    assert haversine_km(PARIS, LYON) == pytest.approx(haversine_km(LYON, PARIS))


def test_the_bounding_box_holds_every_point_within_the_radius() -> None:
    south, north, west, east = bounding_box(PARIS, 100)
    for bearing_point in (
        Point(PARIS.latitude + 0.89, PARIS.longitude),
        Point(PARIS.latitude, PARIS.longitude + 1.36),
        Point(PARIS.latitude - 0.6, PARIS.longitude - 0.9),
    ):
        if haversine_km(PARIS, bearing_point) <= 100:
            assert south <= bearing_point.latitude <= north
            assert west <= bearing_point.longitude <= east


def _agency(agency_id: str, departement: str, region: str, point: Point | None) -> AgencyRecord:
    return AgencyRecord(
        id=agency_id,
        name=agency_id,
        network_id="n",
        departement=departement,
        region=region,
        rome_codes=frozenset({"H2913"}),
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
    )


def test_a_neighbouring_departement_in_another_region_ranks_by_distance() -> None:
    creil = Point(49.2583, 2.4833)  # Oise (60), Hauts-de-France (32)
    cergy = _agency("cergy", "95", "11", Point(49.0364, 2.0761))
    maubeuge = _agency("maubeuge", "59", "32", Point(50.2775, 3.9734))
    ranked = rank(
        [maubeuge, cergy],
        rome_code="H2913",
        departement="60",
        region="32",
        weights=Weights(),
        prior=Prior(),
        limit=2,
        origin=creil,
        radius_km=100,
    )
    assert [r["agency_id"] for r in ranked] == ["cergy", "maubeuge"]
    assert ranked[0]["distance_km"] == pytest.approx(38, abs=3)
    # Without an origin the old rule holds: the same région wins over the nearer neighbour.
    by_region = rank(
        [maubeuge, cergy],
        rome_code="H2913",
        departement="60",
        region="32",
        weights=Weights(),
        prior=Prior(),
        limit=2,
    )
    assert [r["agency_id"] for r in by_region] == ["maubeuge", "cergy"]
    assert by_region[0]["distance_km"] is None


def test_an_agency_without_coordinates_keeps_the_departement_and_region_rule() -> None:
    lost = _agency("lost", "60", "32", None)
    ranked = rank(
        [lost],
        rome_code="H2913",
        departement="60",
        region="32",
        weights=Weights(),
        prior=Prior(),
        limit=1,
        origin=Point(49.2583, 2.4833),
    )
    proximity = next(p for p in ranked[0]["parts"] if p["name"] == "proximity")
    assert (proximity["value"], proximity["explanation"]) == (1.0, "même département (60)")

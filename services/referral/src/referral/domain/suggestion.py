"""Agency suggestion: rank agencies for a job seeker, a ROME code and a département, and say why
(plain Python, no I/O).

Each score part is between 0 and 1 and weighted (weights are settings):

- specialisation: 1 when the agency lists the ROME code, 0.5 when it lists a code of the same
  ROME domain (same letter and two digits, e.g. H29), else 0;
- proximity: by distance when both the agency and the origin have coordinates (haversine,
  1 at the origin falling linearly to 0 at ``radius_km``), so a neighbouring département across a
  régional border ranks by how far it is; otherwise 1 in the same département, 0.5 in the same
  région, else 0;
- acceptance and placement: the agency's past rates in this service's own data, smoothed with a
  Beta prior of ``prior_strength`` pseudo-referrals at the prior mean, so an agency without
  history scores the prior mean instead of 0 and a few lucky answers do not make a champion.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

#: Mean Earth radius (IUGG), kilometres.
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class AgencyRecord:
    id: str
    name: str
    network_id: str
    departement: str
    region: str
    rome_codes: frozenset[str]
    latitude: float | None = None
    longitude: float | None = None
    #: Referrals the agency answered on the merits (accepted, declined or placed).
    answered: int = 0
    accepted: int = 0
    placed: int = 0


@dataclass(frozen=True, slots=True)
class Weights:
    specialisation: float = 0.4
    proximity: float = 0.3
    acceptance: float = 0.15
    placement: float = 0.15


@dataclass(frozen=True, slots=True)
class Prior:
    strength: float = 5
    acceptance: float = 0.5
    placement: float = 0.3


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance between two WGS 84 points, in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(origin: Point, radius_km: float) -> tuple[float, float, float, float]:
    """(min latitude, max latitude, min longitude, max longitude) around ``origin`` holding
    every point within ``radius_km`` (a cheap SQL prefilter before the exact distance)."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    cos = max(math.cos(math.radians(origin.latitude)), 1e-6)
    dlon = min(180.0, math.degrees(radius_km / (EARTH_RADIUS_KM * cos)))
    return (
        origin.latitude - dlat,
        origin.latitude + dlat,
        origin.longitude - dlon,
        origin.longitude + dlon,
    )


def proximity(
    agency: AgencyRecord,
    *,
    departement: str,
    region: str,
    origin: Point | None,
    radius_km: float,
) -> tuple[float, str, float | None]:
    """The proximity part, its explanation and the distance in km when known (see the module's
    docstring)."""
    value, distance = _proximity_value(agency, departement, region, origin, radius_km)
    if distance is not None:
        return value, f"à {distance:.0f} km (0 au-delà de {radius_km:g} km)", distance
    if value == 1.0:
        return value, f"même département ({departement})", None
    if value == 0.5:
        return value, f"même région ({region})", None
    return value, "hors région", None


def _proximity_value(
    agency: AgencyRecord,
    departement: str,
    region: str,
    origin: Point | None,
    radius_km: float,
) -> tuple[float, float | None]:
    if origin is not None and agency.latitude is not None and agency.longitude is not None:
        distance = haversine_km(origin, Point(agency.latitude, agency.longitude))
        return (max(0.0, 1.0 - distance / radius_km) if radius_km > 0 else 0.0), distance
    if agency.departement == departement:
        return 1.0, None
    if agency.region == region:
        return 0.5, None
    return 0.0, None


def rome_domain(code: str) -> str:
    """ROME domaine professionnel: the letter and the first two digits (H2913 → H29)."""
    return code[:3]


def _smoothed(hits: int, trials: int, prior_mean: float, strength: float) -> float:
    return (hits + prior_mean * strength) / (trials + strength) if trials + strength else 0.0


def _specialisation_value(agency: AgencyRecord, rome_code: str) -> float:
    if rome_code in agency.rome_codes:
        return 1.0
    domain = rome_domain(rome_code)
    return 0.5 if any(code.startswith(domain) for code in agency.rome_codes) else 0.0


def _total(
    agency: AgencyRecord,
    rome_code: str,
    departement: str,
    region: str,
    weights: Weights,
    prior: Prior,
    origin: Point | None,
    radius_km: float,
) -> float:
    """The score :func:`score` gives, without its explanations (to rank thousands of agencies
    and explain only the ones shown)."""
    near, _ = _proximity_value(agency, departement, region, origin, radius_km)
    acceptance = _smoothed(agency.accepted, agency.answered, prior.acceptance, prior.strength)
    placement = _smoothed(agency.placed, agency.answered, prior.placement, prior.strength)
    return round(
        round(_specialisation_value(agency, rome_code) * weights.specialisation, 4)
        + round(near * weights.proximity, 4)
        + round(acceptance * weights.acceptance, 4)
        + round(placement * weights.placement, 4),
        4,
    )


def total_score(
    agency: AgencyRecord,
    *,
    rome_code: str,
    departement: str,
    region: str,
    weights: Weights,
    prior: Prior,
    origin: Point | None = None,
    radius_km: float = 100.0,
) -> float:
    """The score :func:`rank` orders by (what :func:`score` sums), without explanations."""
    return _total(agency, rome_code, departement, region, weights, prior, origin, radius_km)


def score(
    agency: AgencyRecord,
    *,
    rome_code: str,
    departement: str,
    region: str,
    weights: Weights,
    prior: Prior,
    origin: Point | None = None,
    radius_km: float = 100.0,
) -> dict[str, Any]:
    specialisation = _specialisation_value(agency, rome_code)
    why_spec = {
        1.0: f"spécialisée en {rome_code}",
        0.5: f"spécialisée dans le domaine {rome_domain(rome_code)}",
    }.get(specialisation, "pas de spécialisation sur ce métier")
    near, why_prox, distance = proximity(
        agency, departement=departement, region=region, origin=origin, radius_km=radius_km
    )
    acceptance = _smoothed(agency.accepted, agency.answered, prior.acceptance, prior.strength)
    placement = _smoothed(agency.placed, agency.answered, prior.placement, prior.strength)
    parts = [
        _part("specialisation", specialisation, weights.specialisation, why_spec),
        _part("proximity", near, weights.proximity, why_prox),
        _part(
            "acceptance",
            acceptance,
            weights.acceptance,
            f"{agency.accepted} acceptation(s) sur {agency.answered} réponse(s), a priori "
            f"{prior.acceptance:.0%} sur {prior.strength:g}",
        ),
        _part(
            "placement",
            placement,
            weights.placement,
            f"{agency.placed} mise(s) en poste sur {agency.answered} réponse(s), a priori "
            f"{prior.placement:.0%} sur {prior.strength:g}",
        ),
    ]
    return {
        "agency_id": agency.id,
        "name": agency.name,
        "network_id": agency.network_id,
        "departement": agency.departement,
        "region": agency.region,
        "distance_km": None if distance is None else round(distance, 1),
        "score": round(sum(p["weighted"] for p in parts), 4),
        "parts": parts,
    }


def _part(name: str, value: float, weight: float, explanation: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 4),
        "weight": weight,
        "weighted": round(value * weight, 4),
        "explanation": explanation,
    }


def rank(
    agencies: list[AgencyRecord],
    *,
    rome_code: str,
    departement: str,
    region: str,
    weights: Weights,
    prior: Prior,
    limit: int,
    origin: Point | None = None,
    radius_km: float = 100.0,
) -> list[dict[str, Any]]:
    """The ``limit`` best agencies, each explained (ties broken by id)."""
    best = heapq.nsmallest(
        limit,
        agencies,
        key=lambda agency: (
            -_total(agency, rome_code, departement, region, weights, prior, origin, radius_km),
            agency.id,
        ),
    )
    return [
        score(
            agency,
            rome_code=rome_code,
            departement=departement,
            region=region,
            weights=weights,
            prior=prior,
            origin=origin,
            radius_km=radius_km,
        )
        for agency in best
    ]

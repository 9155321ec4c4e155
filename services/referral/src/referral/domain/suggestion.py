"""Agency suggestion: rank agencies for a job seeker, a ROME code and a département, and say why
(plain Python, no I/O).

Each score part is between 0 and 1 and weighted (weights are settings):

- specialisation: 1 when the agency lists the ROME code, 0.5 when it lists a code of the same
  ROME domain (same letter and two digits, e.g. H29), else 0;
- proximity: 1 in the same département, 0.5 in the same région, else 0;
- acceptance and placement: the agency's past rates in this service's own data, smoothed with a
  Beta prior of ``prior_strength`` pseudo-referrals at the prior mean, so an agency without
  history scores the prior mean instead of 0 and a few lucky answers do not make a champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AgencyRecord:
    id: str
    name: str
    network_id: str
    departement: str
    region: str
    rome_codes: frozenset[str]
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


def rome_domain(code: str) -> str:
    """ROME domaine professionnel: the letter and the first two digits (H2913 → H29)."""
    return code[:3]


def _smoothed(hits: int, trials: int, prior_mean: float, strength: float) -> float:
    return (hits + prior_mean * strength) / (trials + strength) if trials + strength else 0.0


def score(
    agency: AgencyRecord,
    *,
    rome_code: str,
    departement: str,
    region: str,
    weights: Weights,
    prior: Prior,
) -> dict[str, Any]:
    if rome_code in agency.rome_codes:
        specialisation, why_spec = 1.0, f"spécialisée en {rome_code}"
    elif any(rome_domain(code) == rome_domain(rome_code) for code in agency.rome_codes):
        specialisation, why_spec = 0.5, f"spécialisée dans le domaine {rome_domain(rome_code)}"
    else:
        specialisation, why_spec = 0.0, "pas de spécialisation sur ce métier"
    if agency.departement == departement:
        proximity, why_prox = 1.0, f"même département ({departement})"
    elif agency.region == region:
        proximity, why_prox = 0.5, f"même région ({region})"
    else:
        proximity, why_prox = 0.0, "hors région"
    acceptance = _smoothed(agency.accepted, agency.answered, prior.acceptance, prior.strength)
    placement = _smoothed(agency.placed, agency.answered, prior.placement, prior.strength)
    parts = [
        _part("specialisation", specialisation, weights.specialisation, why_spec),
        _part("proximity", proximity, weights.proximity, why_prox),
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
) -> list[dict[str, Any]]:
    scored = [
        score(
            agency,
            rome_code=rome_code,
            departement=departement,
            region=region,
            weights=weights,
            prior=prior,
        )
        for agency in agencies
    ]
    scored.sort(key=lambda s: (-s["score"], s["agency_id"]))
    return scored[:limit]

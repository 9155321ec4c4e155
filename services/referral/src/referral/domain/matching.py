"""Explained matching (issue 16, item 7), plain Python: for an offer, the job seekers whose trade,
mobility and pathway fit; for a job seeker, the hard-to-fill offers nearby — each with the parts
of its score and a French explanation, as the agency suggestion explains its own.

- trade: 1 when the job seeker was already referred for the offer's ROME code, 0.5 for its domain
  (e.g. H29), else 0 (the job seeker's trades are those of their referrals);
- mobility: by distance when both places are known (1 at the place, 0 from ``radius_km``), else 1
  in the same département, 0.5 in the same région, else 0;
- pathway: 1 after a completed immersion, a positive MRS or a completed training in the trade's
  domain, 0.5 when an agency accepted them for that domain, else 0.

A job seeker already placed, or already referred for this offer, is left out.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from referral.domain.suggestion import Point, haversine_km, rome_domain


@dataclass(frozen=True, slots=True)
class MatchWeights:
    trade: float = 0.45
    mobility: float = 0.3
    pathway: float = 0.25


@dataclass(frozen=True, slots=True)
class SeekerRecord:
    id: str
    departement: str | None
    region: str | None
    #: ROME codes of their referrals.
    trades: frozenset[str] = frozenset()
    #: ROME codes where a scheme succeeded (immersion completed, MRS positive, training completed).
    scheme_successes: frozenset[str] = frozenset()
    #: ROME codes where an agency accepted them.
    accepted_trades: frozenset[str] = frozenset()
    placed: bool = False
    referred_offers: frozenset[str] = frozenset()
    place: Point | None = None


@dataclass(frozen=True, slots=True)
class OfferRecord:
    id: str
    title: str
    rome_code: str
    departement: str
    region: str
    hard_to_fill_source: str | None = None
    place: Point | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _trade(seeker: SeekerRecord, rome_code: str) -> tuple[float, str]:
    if rome_code in seeker.trades:
        return 1.0, f"déjà orienté(e) vers le métier {rome_code}"
    domain = rome_domain(rome_code)
    if any(code.startswith(domain) for code in seeker.trades):
        return 0.5, f"déjà orienté(e) vers le domaine {domain}"
    return 0.0, "aucune orientation vers ce métier"


def _mobility(seeker: SeekerRecord, offer: OfferRecord, radius_km: float) -> tuple[float, str]:
    if seeker.place is not None and offer.place is not None:
        distance = haversine_km(seeker.place, offer.place)
        return max(0.0, 1.0 - distance / radius_km), f"à {distance:.0f} km de l'offre"
    if seeker.departement is not None and seeker.departement == offer.departement:
        return 1.0, f"même département ({offer.departement})"
    if seeker.region is not None and seeker.region == offer.region:
        return 0.5, f"même région ({offer.region})"
    return 0.0, "hors de la région de l'offre"


def _pathway(seeker: SeekerRecord, rome_code: str) -> tuple[float, str]:
    domain = rome_domain(rome_code)
    if any(code.startswith(domain) for code in seeker.scheme_successes):
        return 1.0, f"immersion, MRS ou formation réussie dans le domaine {domain}"
    if any(code.startswith(domain) for code in seeker.accepted_trades):
        return 0.5, f"déjà accepté(e) par une agence dans le domaine {domain}"
    return 0.0, "pas encore de parcours dans ce domaine"


def _part(name: str, value: float, weight: float, explanation: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 4),
        "weight": weight,
        "weighted": round(value * weight, 4),
        "explanation": explanation,
    }


def explain(
    seeker: SeekerRecord, offer: OfferRecord, weights: MatchWeights, radius_km: float
) -> dict[str, Any]:
    trade, why_trade = _trade(seeker, offer.rome_code)
    mobility, why_mobility = _mobility(seeker, offer, radius_km)
    pathway, why_pathway = _pathway(seeker, offer.rome_code)
    parts = [
        _part("trade", trade, weights.trade, why_trade),
        _part("mobility", mobility, weights.mobility, why_mobility),
        _part("pathway", pathway, weights.pathway, why_pathway),
    ]
    return {
        "job_seeker_id": seeker.id,
        "offer_id": offer.id,
        "score": round(sum(p["weighted"] for p in parts), 4),
        "parts": parts,
    }


def eligible(seeker: SeekerRecord, offer: OfferRecord) -> bool:
    return not seeker.placed and offer.id not in seeker.referred_offers


def seekers_for_offer(
    offer: OfferRecord,
    seekers: Iterable[SeekerRecord],
    *,
    weights: MatchWeights,
    radius_km: float,
    limit: int,
) -> list[dict[str, Any]]:
    """The best-fitting job seekers (a score above 0 only), each explained; ties by id."""
    scored = [explain(s, offer, weights, radius_km) for s in seekers if eligible(s, offer)]
    fitting = [s for s in scored if s["score"] > 0]
    return heapq.nsmallest(limit, fitting, key=lambda s: (-s["score"], s["job_seeker_id"]))


def offers_for_seeker(
    seeker: SeekerRecord,
    offers: Iterable[OfferRecord],
    *,
    weights: MatchWeights,
    radius_km: float,
    limit: int,
) -> list[dict[str, Any]]:
    """The nearby offers that fit best (mobility above 0), each explained; ties by id."""
    scored = [explain(seeker, o, weights, radius_km) for o in offers if eligible(seeker, o)]
    nearby = [s for s in scored if s["parts"][1]["value"] > 0]
    return heapq.nsmallest(limit, nearby, key=lambda s: (-s["score"], s["offer_id"]))

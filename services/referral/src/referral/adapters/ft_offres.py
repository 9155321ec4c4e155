"""France Travail's Offres d'emploi v2 API (francetravail.io), as the referral service reads it.

- Authentication: OAuth2 client credentials at the token URL (realm ``/partenaire``), scope
  ``api_offresdemploiv2 o2dsoffre``; the token is kept until shortly before ``expires_in`` and
  asked again once on a 401.
- Search: ``GET {base}/offres/search`` with the criteria (``departement``, ``codeROME``,
  ``offresManqueCandidats``…) and ``range=start-end`` (at most 150 offers a call; the API serves
  the first ``MAX_START`` + 150 of a search). 206 with ``Content-Range: offres 0-149/1234`` while
  there are more, 200 for the last page, 204 for none.
- Each result maps to :class:`referral.use_cases.offers.OfferInput`: ``intitule``, ``romeCode``,
  ``lieuTravail`` (``libelle`` "59 - LILLE", ``commune`` code INSEE, ``latitude``/``longitude``),
  ``typeContrat``, ``nombrePostes``, ``offresManqueCandidats`` → hard-to-fill with the source
  ``offer_flag``.

No network in the tests: they run this client against a local server speaking the same JSON.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from referral.domain import HardToFillSource
from referral.use_cases.offers import OfferInput
from shared import referentials
from shared.contracts.vocabulary import ContractType

log = structlog.get_logger(__name__)

PAGE_SIZE = 150
#: The highest first index the search accepts.
MAX_START = 3000
SCOPE = "api_offresdemploiv2 o2dsoffre"
_CONTENT_RANGE = re.compile(r"(\d+)-(\d+)/(\d+)")
#: France Travail's typeContrat → the platform's contract types (others are skipped).
CONTRACT_TYPES = {
    "CDI": ContractType.CDI,
    "CDD": ContractType.CDD,
    "MIS": ContractType.MISSION,
    "SAI": ContractType.CDD_SAISONNIER,
    "DIN": ContractType.CDI_INTERIMAIRE,
}


class FtOffresError(Exception):
    """France Travail's API answered something this client cannot use (no detail of the
    offers in the message)."""


@dataclass(frozen=True, slots=True)
class FtOffresConfig:
    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    scope: str = SCOPE
    timeout_seconds: float = 20.0


class FtOffresClient:
    def __init__(self, config: FtOffresConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http or httpx.AsyncClient(timeout=config.timeout_seconds)
        self._owns_http = http is None
        self._token: str | None = None
        self._token_until = 0.0

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _access_token(self, *, renew: bool = False) -> str:
        if self._token and not renew and time.monotonic() < self._token_until:
            return self._token
        response = await self._http.post(
            self.config.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "scope": self.config.scope,
            },
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code != 200:
            raise FtOffresError(f"jeton refusé par France Travail (HTTP {response.status_code})")
        body = response.json()
        self._token = str(body["access_token"])
        # Renewed a minute before it expires.
        self._token_until = time.monotonic() + max(0.0, float(body.get("expires_in", 0)) - 60)
        return self._token

    async def _get(self, path: str, params: Mapping[str, str]) -> httpx.Response:
        url = self.config.base_url.rstrip("/") + path
        for attempt in (0, 1):
            token = await self._access_token(renew=attempt == 1)
            response = await self._http.get(
                url, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 401:
                return response
        return response

    async def search(self, **criteria: str) -> AsyncIterator[dict[str, Any]]:
        """Every offer of the search, page by page (``range``)."""
        start = 0
        while start <= MAX_START:
            params = {**criteria, "range": f"{start}-{start + PAGE_SIZE - 1}"}
            response = await self._get("/offres/search", params)
            if response.status_code == 204:
                return
            if response.status_code not in (200, 206):
                raise FtOffresError(
                    f"recherche d'offres refusée par France Travail (HTTP {response.status_code})"
                )
            results = response.json().get("resultats") or []
            for offer in results:
                yield offer
            match = _CONTENT_RANGE.search(response.headers.get("Content-Range", ""))
            if response.status_code == 200 or not results or match is None:
                return
            last, total = int(match.group(2)), int(match.group(3))
            if last + 1 >= total:
                return
            start = last + 1


def departement_of(place: Mapping[str, Any]) -> str | None:
    """The département of a ``lieuTravail``: from its commune code (INSEE), else from its label
    ("59 - LILLE"), else from its postcode."""
    commune = str(place.get("commune") or "")
    candidates = []
    if len(commune) == 5:
        candidates += [commune[:3], commune[:2]]
    label = str(place.get("libelle") or "")
    if " - " in label:
        candidates.append(label.split(" - ", 1)[0].strip())
    postcode = str(place.get("codePostal") or "")
    if len(postcode) == 5:
        candidates += [postcode[:3], postcode[:2]]
    for code in candidates:
        if referentials.region_of(code) is not None:
            return code
    return None


def to_offer_input(raw: Mapping[str, Any]) -> OfferInput | None:
    """The platform's offer for one search result; None for one it cannot place or classify
    (no known ROME code, département or contract type)."""
    rome_code = raw.get("romeCode")
    place = raw.get("lieuTravail") or {}
    departement = departement_of(place)
    contract = CONTRACT_TYPES.get(str(raw.get("typeContrat") or ""))
    if not referentials.is_rome_code(rome_code) or departement is None or contract is None:
        return None
    hard_to_fill = bool(raw.get("offresManqueCandidats"))
    label = str(place.get("libelle") or "")
    latitude, longitude = place.get("latitude"), place.get("longitude")
    geolocated = isinstance(latitude, (int, float)) and isinstance(longitude, (int, float))
    return OfferInput(
        title=str(raw.get("intitule") or rome_code)[:200],
        rome_code=str(rome_code),
        departement=departement,
        contract_type=contract,
        posts=max(1, int(raw.get("nombrePostes") or 1)),
        hard_to_fill=hard_to_fill,
        hard_to_fill_source=HardToFillSource.OFFER_FLAG if hard_to_fill else None,
        ft_offer_id=str(raw["id"])[:32],
        commune=(label.split(" - ", 1)[-1].strip().title() or None) if label else None,
        latitude=float(latitude) if geolocated else None,
        longitude=float(longitude) if geolocated else None,
    )


async def fetch_offers(client: FtOffresClient, **criteria: str) -> tuple[list[OfferInput], int]:
    """The offers of a search mapped to the platform's, and how many results were skipped."""
    offers, skipped = [], 0
    async for raw in client.search(**criteria):
        offer = to_offer_input(raw)
        if offer is None:
            skipped += 1
        else:
            offers.append(offer)
    if skipped:
        log.info("france travail offers skipped", skipped=skipped)
    return offers, skipped

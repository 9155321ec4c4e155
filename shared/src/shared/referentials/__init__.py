"""Reference data every service checks against, loaded by this one module.

- Départements and régions: INSEE Code officiel géographique (``departements.csv``).
- ROME 4.0 métiers (``rome4_metiers.csv``, 1,584 codes) and their sectors (``rome4_secteurs.csv``),
  from France Travail's ROME 4.0 referential.

Loaded once per process (the files are small); plain Python, no I/O after the first call.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Departement:
    code: str
    name: str
    region_code: str
    region_name: str


@dataclass(frozen=True, slots=True)
class Sector:
    code: str
    label: str


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files(__name__).joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def departements() -> Mapping[str, Departement]:
    """Département code (``59``, ``2A``, ``971``) → its département and région."""
    return MappingProxyType(
        {
            row["code_departement"]: Departement(
                row["code_departement"],
                row["nom_departement"],
                row["code_region"],
                row["nom_region"],
            )
            for row in _rows("departements.csv")
        }
    )


def departement(code: str | None) -> Departement | None:
    return departements().get(code) if code is not None else None


def region_of(code: str | None) -> str | None:
    """The région code of a département code, or None when the code is unknown."""
    found = departement(code)
    return found.region_code if found else None


@cache
def regions() -> Mapping[str, str]:
    """Région code → name."""
    return MappingProxyType({d.region_code: d.region_name for d in departements().values()})


@cache
def rome_metiers() -> Mapping[str, str]:
    """ROME 4.0 code → libellé."""
    return MappingProxyType(
        {row["code_rome"]: row["libelle"] for row in _rows("rome4_metiers.csv")}
    )


def rome_label(code: str | None) -> str | None:
    return rome_metiers().get(code) if code is not None else None


def is_rome_code(code: str | None) -> bool:
    """A code of the ROME 4.0 referential (not only its pattern)."""
    return code is not None and code in rome_metiers()


@cache
def _sectors() -> Mapping[str, tuple[Sector, ...]]:
    found: dict[str, list[Sector]] = {}
    for row in _rows("rome4_secteurs.csv"):
        found.setdefault(row["code_rome"], []).append(
            Sector(row["secteur_code"], row["secteur_libelle"])
        )
    return MappingProxyType({code: tuple(sectors) for code, sectors in found.items()})


def rome_sectors(code: str | None) -> tuple[Sector, ...]:
    """The sectors a ROME code belongs to (a métier can sit in several)."""
    return _sectors().get(code, ()) if code is not None else ()


_POSTCODE_TOWN = re.compile(r"\b\d{5}\s+(?P<town>[^\d,]+?)(?:\s+cedex(?:\s+\d+)?)?\s*$", re.I)


def town_of(address: str | None) -> str | None:
    """The town of a French postal address (``12 rue de la Paix, 59000 Lille`` → ``Lille``): the
    words after the last postcode, without ``CEDEX``; None when there is no postcode."""
    if not address:
        return None
    found = _POSTCODE_TOWN.search(address.strip())
    return found.group("town").strip() if found else None

"""Reference data shipped with the service: départements and régions (INSEE COG, copied from the
project's reference data) and the MRS habiletés referential (replaceable by a file of one's own:
``DISPOSITIFS_MRS_HABILETES_FILE``)."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from pathlib import Path


@cache
def departements() -> dict[str, tuple[str, str]]:
    """Département code → (région code, région name)."""
    path = resources.files("dispositifs.data").joinpath("departements.csv")
    with path.open(encoding="utf-8") as f:
        return {
            row["code_departement"]: (row["code_region"], row["nom_region"])
            for row in csv.DictReader(f)
        }


def region_of(departement: str | None) -> str | None:
    if departement is None:
        return None
    found = departements().get(departement)
    return found[0] if found else None


@cache
def regions() -> dict[str, str]:
    """Région code → name."""
    return dict(departements().values())


@cache
def mrs_habiletes(path: Path | None = None) -> dict[str, str]:
    """Habileté code → label. The default list of 17 is UNVERIFIED: check its labels against
    France Travail's referential, or point the setting to the official file (``code,libelle``)."""
    if path is None:
        source = resources.files("dispositifs.data").joinpath("mrs_habiletes.csv")
        with source.open(encoding="utf-8") as f:
            return {row["code"]: row["libelle"] for row in csv.DictReader(f)}
    with path.open(encoding="utf-8") as f:
        return {row["code"]: row["libelle"] for row in csv.DictReader(f)}

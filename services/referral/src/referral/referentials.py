"""Reference data shipped with the service: ROME 4.0 métiers and départements (INSEE COG)."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def rome_codes() -> dict[str, str]:
    """ROME 4.0 code → libellé (1,584 métiers)."""
    with resources.files("referral.data").joinpath("rome4_metiers.csv").open(encoding="utf-8") as f:
        return {row["code_rome"]: row["libelle"] for row in csv.DictReader(f)}


@cache
def departements() -> dict[str, tuple[str, str]]:
    """Département code → (name, région code)."""
    path = resources.files("referral.data").joinpath("departements.csv")
    with path.open(encoding="utf-8") as f:
        return {
            row["code_departement"]: (row["nom_departement"], row["code_region"])
            for row in csv.DictReader(f)
        }


@cache
def regions() -> dict[str, str]:
    """Région code → name."""
    path = resources.files("referral.data").joinpath("departements.csv")
    with path.open(encoding="utf-8") as f:
        return {row["code_region"]: row["nom_region"] for row in csv.DictReader(f)}

"""Reference data of the dispositifs service's own, and its loader: the MRS habiletés
referential (replaceable by a file of one's own: ``DISPOSITIFS_MRS_HABILETES_FILE``).
Départements, régions and ROME codes come from :mod:`shared.referentials`, as for every service."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from pathlib import Path


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

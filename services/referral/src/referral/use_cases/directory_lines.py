"""Reading a network's directory file and checking each of its lines (no store): CSV or JSON,
each line's fields checked and normalised, or refused with the field and a French reason
(:mod:`referral.use_cases.directory_import` writes them)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from email_validator import EmailNotValidError, validate_email
from stdnum.fr import siret as siret_number

from referral.use_cases.common import invalid
from shared import referentials

#: The most lines one import takes (a network's whole directory, with room).
MAX_LINES = 50_000

AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
POSTCODE = re.compile(r"^\d{5}$")
PHONE = re.compile(r"^\+?[0-9 .()-]{6,20}$")

#: The columns of a directory line (CSV header or JSON keys); ``id``, ``name``, ``siret`` and
#: ``departement`` are required.
COLUMNS = (
    "id",
    "name",
    "siret",
    "departement",
    "commune",
    "postcode",
    "latitude",
    "longitude",
    "address",
    "email",
    "phone",
    "contact_name",
    "rome_codes",
    "active",
    "network_id",
)


class LineError(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


# -- reading a file ------------------------------------------------------------------------------


def parse_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    """The lines of a CSV directory (comma or semicolon, header line first, UTF-8 with or
    without BOM), numbered as a spreadsheet shows them (the header is line 1)."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in ("id", "name", "siret", "departement") if name not in header]
    if missing:
        raise invalid(
            "body",
            "colonnes manquantes",
            f"En-tête CSV incomplet : colonne(s) {', '.join(missing)} manquante(s).",
        )
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise invalid(
            "body",
            "colonnes inconnues",
            f"En-tête CSV : colonne(s) inconnue(s) {', '.join(unknown)} "
            f"(colonnes admises : {', '.join(COLUMNS)}).",
        )
    reader.fieldnames = header
    lines = []
    for row in reader:
        values = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        if not any(values.values()):
            continue
        lines.append((reader.line_num, values))
    return _bounded(lines)


def parse_json(payload: object) -> list[tuple[int, dict[str, Any]]]:
    """The lines of a JSON directory: a list of objects, or ``{"agencies": [...]}``; numbered
    from 1 in the list's order."""
    items = payload.get("agencies") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise invalid(
            "body",
            "liste attendue",
            'Le corps JSON doit être une liste d\'agences ou un objet {"agencies": [...]}.',
        )
    lines: list[tuple[int, dict[str, Any]]] = []
    for number, item in enumerate(items, start=1):
        lines.append((number, item if isinstance(item, dict) else {"_not_an_object": item}))
    return _bounded(lines)


def parse_body(content_type: str, body: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The directory's lines from an HTTP body: ``text/csv`` or ``application/json``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid("body", "encodage", "Le fichier doit être encodé en UTF-8.") from exc
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return parse_csv(text)
    if kind == "application/json":
        try:
            return parse_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise invalid("body", "JSON invalide", f"JSON illisible : {exc.msg}.") from exc
    raise invalid(
        "content-type",
        "type non pris en charge",
        "Envoyer le fichier en text/csv ou en application/json.",
        location="header",
    )


def _bounded(lines: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    if len(lines) > MAX_LINES:
        raise invalid(
            "body", "trop de lignes", f"{len(lines)} lignes : au plus {MAX_LINES} par import."
        )
    return lines


# -- checking one line (no store) ----------------------------------------------------------------


def _text(
    values: Mapping[str, Any], name: str, limit: int, *, required: bool = False
) -> str | None:
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise LineError(name, "obligatoire")
        return None
    if not isinstance(value, str):
        raise LineError(name, "doit être un texte")
    value = value.strip()
    if len(value) > limit:
        raise LineError(name, f"{limit} caractères au plus")
    return value


def _coordinate(values: Mapping[str, Any], name: str, bound: float) -> float | None:
    value = values.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise LineError(name, "nombre décimal attendu (degrés WGS 84)") from None
    if isinstance(value, bool) or not math.isfinite(number) or abs(number) > bound:
        raise LineError(name, f"doit être entre -{bound:g} et {bound:g}")
    return round(number, 6)


def _rome_codes(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        codes = [code for code in re.split(r"[\s;,|]+", value) if code]
    elif isinstance(value, list) and all(isinstance(code, str) for code in value):
        codes = value
    else:
        raise LineError("rome_codes", "liste de codes ROME attendue")
    for code in codes:
        if not referentials.is_rome_code(code):
            raise LineError("rome_codes", f"code ROME {code} inconnu du référentiel ROME 4.0")
    return sorted(set(codes))


def _active(value: object) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "oui", "vrai", "yes"):
        return True
    if text in ("0", "false", "non", "faux", "no"):
        return False
    raise LineError("active", "oui/non (ou true/false) attendu")


def check_line(network_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields of a directory line, or :class:`LineError` naming the first field at
    fault."""
    if "_not_an_object" in values:
        raise LineError("line", "objet JSON attendu")
    unknown = sorted(set(values) - set(COLUMNS))
    if unknown:
        raise LineError(unknown[0], "champ inconnu")
    agency_id = _text(values, "id", 64, required=True)
    assert agency_id is not None
    if not AGENCY_ID.match(agency_id):
        raise LineError("id", "minuscules, chiffres et tirets (2 à 64 caractères)")
    line_network = _text(values, "network_id", 64)
    if line_network is not None and line_network != network_id:
        raise LineError("network_id", f"la ligne est du réseau {line_network}, pas {network_id}")
    name = _text(values, "name", 200, required=True)
    raw_siret = _text(values, "siret", 17, required=True)
    if not siret_number.is_valid(raw_siret or ""):
        raise LineError("siret", "SIRET invalide (14 chiffres, clé de Luhn)")
    departement = _text(values, "departement", 3, required=True)
    region = referentials.region_of(departement)
    if region is None:
        raise LineError("departement", f"département {departement} inconnu")
    postcode = _text(values, "postcode", 5)
    if postcode is not None and not POSTCODE.match(postcode):
        raise LineError("postcode", "code postal à 5 chiffres")
    latitude = _coordinate(values, "latitude", 90)
    longitude = _coordinate(values, "longitude", 180)
    if (latitude is None) != (longitude is None):
        raise LineError(
            "latitude" if latitude is None else "longitude", "latitude et longitude vont ensemble"
        )
    email = _text(values, "email", 254)
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            raise LineError("email", "adresse électronique invalide") from None
    phone = _text(values, "phone", 20)
    if phone is not None and not PHONE.match(phone):
        raise LineError("phone", "numéro de téléphone invalide")
    return {
        "id": agency_id,
        "name": name,
        "siret": siret_number.compact(raw_siret or ""),
        "departement": departement,
        "region": region,
        "commune": _text(values, "commune", 100),
        "postcode": postcode,
        "latitude": latitude,
        "longitude": longitude,
        "address": _text(values, "address", 300),
        "email": email,
        "phone": phone,
        "contact_name": _text(values, "contact_name", 200),
        "active": _active(values.get("active")),
        "rome_codes": _rome_codes(values.get("rome_codes")),
    }

"""Who signs a PMSMP convention, and the signed links through which each party signs it (and the
tutor assesses it), as plain Python: no I/O.

- The parties (L5135-4, D5135-1): the beneficiary; their legal representative when under 18 on
  the first day (the national tool makes them a signatory); the host's representative; the tutor
  when another person; the beneficiary's employer when salaried; the support structure when it is
  not the prescriber. The prescriber does not sign a link: its counsellor validates.
- A link names one convention, one party and one purpose (sign, assess), carries a nonce and an
  expiry, and is signed with HMAC-SHA256 under a key of the settings. Re-sending a link draws a
  new nonce: the older link of that party stops working. Nothing personal is in the link.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dispositifs.domain import code_du_travail
from shared.domain.errors import Forbidden, Violation

ART_PARTIES = code_du_travail("L5135-4") + " ; " + code_du_travail("D5135-1")


class SignatoryRole(enum.StrEnum):
    BENEFICIARY = "beneficiary"
    LEGAL_REPRESENTATIVE = "legal_representative"
    HOST_REPRESENTATIVE = "host_representative"
    TUTOR = "tutor"
    EMPLOYER = "employer"
    SUPPORT_STRUCTURE = "support_structure"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    SignatoryRole.BENEFICIARY: "Bénéficiaire",
    SignatoryRole.LEGAL_REPRESENTATIVE: "Représentant légal du bénéficiaire",
    SignatoryRole.HOST_REPRESENTATIVE: "Représentant de la structure d'accueil",
    SignatoryRole.TUTOR: "Tuteur",
    SignatoryRole.EMPLOYER: "Employeur du bénéficiaire",
    SignatoryRole.SUPPORT_STRUCTURE: "Structure d'accompagnement",
}


class LinkPurpose(enum.StrEnum):
    SIGN = "sign"
    ASSESS = "assess"
    #: The beneficiary acknowledges the tutor's assessment.
    ACKNOWLEDGE = "acknowledge"


@dataclass(frozen=True, slots=True)
class Party:
    role: SignatoryRole
    name: str | None
    email: str | None


@dataclass(frozen=True)
class ConventionParties:
    """What decides who signs: the convention's parties as far as it names them."""

    beneficiary: Party
    host_representative: Party
    tutor: Party
    birth_date: date | None
    start_date: date
    legal_representative: Party | None = None
    employer: Party | None = None
    #: The beneficiary is salaried (their employer is then a party, D5135-1).
    salaried: bool = False
    support_structure: Party | None = None
    prescriber_name: str | None = None
    adult_age: int = 18


def _age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def _same_person(a: Party, b: Party) -> bool:
    if a.email and b.email:
        return a.email.strip().casefold() == b.email.strip().casefold()
    return bool(a.name and b.name and a.name.strip().casefold() == b.name.strip().casefold())


def signatories(parties: ConventionParties) -> tuple[list[Party], list[Violation]]:
    """Who must sign, and the parties that are missing (each a violation citing its article)."""
    needed: list[Party] = [parties.beneficiary]
    missing: list[Violation] = []
    minor = (
        parties.birth_date is not None
        and _age_on(parties.birth_date, parties.start_date) < parties.adult_age
    )
    if minor:
        if parties.legal_representative is None or not parties.legal_representative.email:
            missing.append(
                Violation(
                    "pmsmp.parties.legal_representative",
                    "legal_representative.email",
                    "bénéficiaire mineur : son représentant légal signe la convention (nom et "
                    "courriel requis)",
                    ART_PARTIES,
                )
            )
        else:
            needed.append(parties.legal_representative)
    needed.append(parties.host_representative)
    if not _same_person(parties.tutor, parties.host_representative):
        needed.append(parties.tutor)
    if parties.salaried:
        if parties.employer is None or not parties.employer.email:
            missing.append(
                Violation(
                    "pmsmp.parties.employer",
                    "employer.email",
                    "bénéficiaire salarié : son employeur est partie à la convention (nom et "
                    "courriel requis)",
                    ART_PARTIES,
                )
            )
        else:
            needed.append(parties.employer)
    support = parties.support_structure
    if (
        support is not None
        and support.name
        and support.name.strip().casefold() != (parties.prescriber_name or "").strip().casefold()
    ):
        # A support structure that is not the prescriber is a party (L5135-4): it signs, so it
        # needs an address (never left out because none was given).
        if not support.email:
            missing.append(
                Violation(
                    "pmsmp.parties.support_structure",
                    "support.email",
                    "la structure d'accompagnement n'est pas le prescripteur : elle signe la "
                    "convention (courriel requis)",
                    ART_PARTIES,
                )
            )
        else:
            needed.append(support)
    for party in needed:
        if not party.email:
            missing.append(
                Violation(
                    "pmsmp.parties.email",
                    f"{party.role.value}.email",
                    f"{party.role.label} : un courriel est requis pour signer par son lien",
                    ART_PARTIES,
                )
            )
    return needed, missing


# -- signed links ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkClaims:
    convention_id: uuid.UUID
    role: SignatoryRole
    purpose: LinkPurpose
    nonce: str
    expires_at: datetime


def new_nonce() -> str:
    return secrets.token_urlsafe(12)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_link_token(key: str, claims: LinkClaims) -> str:
    payload = json.dumps(
        {
            "c": str(claims.convention_id),
            "r": claims.role.value,
            "p": claims.purpose.value,
            "n": claims.nonce,
            "e": int(claims.expires_at.timestamp()),
        },
        separators=(",", ":"),
    ).encode()
    body = _b64(payload)
    mac = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


INVALID_LINK = "Ce lien n'est pas valide. Demandez un nouveau lien au conseiller."


def read_link_token(key: str, token: str, *, now: datetime) -> LinkClaims:
    """The claims of a link signed with ``key``; :class:`Forbidden` (in French) when it is
    forged, damaged or expired."""
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise ValueError("signature")
        data = json.loads(_unb64(body))
        claims = LinkClaims(
            convention_id=uuid.UUID(data["c"]),
            role=SignatoryRole(data["r"]),
            purpose=LinkPurpose(data["p"]),
            nonce=str(data["n"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Forbidden(INVALID_LINK, code="invalid-link") from exc
    if now >= claims.expires_at:
        raise Forbidden(
            "Ce lien a expiré. Demandez au conseiller de vous en renvoyer un.", code="link-expired"
        )
    return claims


def all_signed(signed: Iterable[bool]) -> bool:
    values = list(signed)
    return bool(values) and all(values)

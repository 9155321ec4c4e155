"""The agency directory, kept by ops: add an agency (its network is onboarded with it), change
one. SIRET checked (Luhn, La Poste's exception), département and ROME codes against the
referentials."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.fr import siret as siret_number

from referral import access
from referral.domain.errors import AgencyExists
from referral.models import Agency, AgencySpecialisation
from referral.use_cases.common import check_rome_code, invalid, not_found, region_of
from referral.use_cases.networks import register_network
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden


@dataclass(frozen=True, slots=True)
class AgencyInput:
    id: str
    name: str
    network_id: str
    siret: str
    departement: str
    address: str | None = None
    email: str | None = None
    rome_codes: tuple[str, ...] = ()
    commune: str | None = None
    postcode: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    contact_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateAgency:
    agency_id: str
    #: The fields the caller sent, with their new value.
    changes: Mapping[str, Any]


#: Fields an update may not erase with a null.
_REQUIRED = ("name", "network_id", "siret", "departement", "rome_codes", "active")


def _check_siret(value: str) -> str:
    # Luhn, with La Poste's exception (SIREN 356000000: digit sum multiple of 5): python-stdnum.
    if not siret_number.is_valid(value):
        raise invalid("siret", "SIRET invalide", f"SIRET {value} invalide (14 chiffres, Luhn).")
    return siret_number.compact(value)


def _check_rome_list(codes: Iterable[str]) -> list[str]:
    unique = sorted(set(codes))
    for index, code in enumerate(codes):
        check_rome_code(code, f"rome_codes.{index}")
    return unique


def _check_may_manage(principal: Principal) -> None:
    if not access.may_manage_directory(principal):
        raise Forbidden("Seuls les ops tiennent l'annuaire des agences.")


async def create_agency(session: AsyncSession, data: AgencyInput, principal: Principal) -> Agency:
    _check_may_manage(principal)
    siret = _check_siret(data.siret)
    region = region_of(data.departement)
    codes = _check_rome_list(data.rome_codes)
    if await session.get(Agency, data.id) is not None:
        raise AgencyExists(f"L'agence {data.id} existe déjà.")
    if await session.scalar(select(Agency.id).where(Agency.siret == siret)) is not None:
        raise invalid("siret", "SIRET déjà enregistré", f"Une agence a déjà le SIRET {siret}.")
    # An agency of a network not seen before onboards the network (its topics follow).
    await register_network(session, data.network_id)
    agency = Agency(
        id=data.id,
        name=data.name,
        network_id=data.network_id,
        siret=siret,
        address=data.address,
        departement=data.departement,
        region=region,
        email=data.email,
        active=True,
        commune=data.commune,
        postcode=data.postcode,
        latitude=data.latitude,
        longitude=data.longitude,
        contact_name=data.contact_name,
        phone=data.phone,
        specialisations=[AgencySpecialisation(rome_code=code) for code in codes],
    )
    if (data.latitude is None) != (data.longitude is None):
        raise invalid(
            "latitude" if data.latitude is None else "longitude",
            "latitude et longitude vont ensemble",
            "Une agence géolocalisée a une latitude et une longitude.",
        )
    session.add(agency)
    await session.flush()
    return agency


async def update_agency(
    session: AsyncSession, command: UpdateAgency, principal: Principal
) -> Agency:
    _check_may_manage(principal)
    changes = command.changes
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            raise invalid(name, "ne peut pas être vide", f"{name} ne peut pas être effacé.")
    agency = await session.get(Agency, command.agency_id, with_for_update=True)
    if agency is None:
        raise not_found(f"Agence {command.agency_id}")
    if "siret" in changes:
        siret = _check_siret(changes["siret"])
        other = await session.scalar(
            select(Agency.id).where(Agency.siret == siret, Agency.id != command.agency_id)
        )
        if other is not None:
            raise invalid("siret", "SIRET déjà enregistré", f"Une agence a déjà le SIRET {siret}.")
        agency.siret = siret
    if "departement" in changes:
        agency.region = region_of(changes["departement"])
        agency.departement = changes["departement"]
    if "rome_codes" in changes:
        codes = _check_rome_list(changes["rome_codes"])
        agency.specialisations = [AgencySpecialisation(rome_code=code) for code in codes]
    if "network_id" in changes:
        await register_network(session, changes["network_id"])
    latitude = changes.get("latitude", agency.latitude)
    longitude = changes.get("longitude", agency.longitude)
    if (latitude is None) != (longitude is None):
        raise invalid(
            "latitude" if latitude is None else "longitude",
            "latitude et longitude vont ensemble",
            "Une agence géolocalisée a une latitude et une longitude.",
        )
    for name in (
        "name",
        "network_id",
        "address",
        "email",
        "active",
        "commune",
        "postcode",
        "latitude",
        "longitude",
        "contact_name",
        "phone",
    ):
        if name in changes:
            setattr(agency, name, changes[name])
    await session.flush()
    return agency

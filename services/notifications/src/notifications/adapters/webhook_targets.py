"""Which webhook targets the platform may call (issue 10, item 10): a request forged by the
platform must never reach its own network, the host or the cloud's metadata service.

- ``https://`` only, except with ``ENVIRONMENT=development``;
- every address the host name resolves to must be public: no loopback, private (RFC 1918, ULA),
  link-local, shared (CGNAT), multicast, reserved or unspecified address, and never a cloud
  metadata address (169.254.169.254, fd00:ec2::254, 100.100.100.200…) — an IPv4-mapped IPv6
  address is judged as its IPv4 address;
- ``webhook_allowed_networks`` (CIDRs, e.g. an ERP on a private link) lifts the "public" rule for
  those networks only; metadata addresses stay refused.

Checked when ops register the target (a name that does not resolve yet is accepted: it is checked
again at each delivery) and at each delivery, where the connection goes to the address just
checked (the host name is kept for ``Host`` and TLS), so a name re-pointed after the check (DNS
rebinding) cannot take the request elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud instance metadata endpoints (AWS, GCP, Azure, OpenStack, Oracle; Alibaba; AWS IPv6).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


#: A name that takes longer than this to resolve is treated as not resolving (for now).
RESOLVE_TIMEOUT_SECONDS = 5.0


class UnsafeTarget(Exception):
    """The target may not be called; the message (French) says why, without the address."""


class UnresolvedTarget(Exception):
    """The host name does not resolve (now)."""


@dataclass(frozen=True, slots=True)
class TargetRules:
    require_https: bool
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, *, environment: str, allowed_networks: Iterable[str]) -> TargetRules:
        return cls(
            require_https=environment != "development",
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks),
        )


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    scheme: str
    host: str
    port: int
    #: Every address the host had when checked, all allowed; the first is the one to call.
    addresses: tuple[IPAddress, ...]


def refusal(address: IPAddress, rules: TargetRules) -> str | None:
    """Why ``address`` may not be called (French), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "adresse du service de métadonnées du nuage"
    if any(address in network for network in rules.allowed_networks):
        return None
    if address.is_loopback:
        return "adresse de bouclage (loopback)"
    if address.is_link_local:
        return "adresse de lien local"
    if address.is_multicast:
        return "adresse de multidiffusion (multicast)"
    if address.is_unspecified:
        return "adresse non spécifiée"
    if address.is_private:
        return "adresse de réseau privé"
    if not address.is_global:
        return "adresse non publique (réservée)"
    return None


def parse(url: str, rules: TargetRules) -> tuple[str, str, int]:
    """Scheme, host and port of an allowed URL shape (before any resolution)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget("URL illisible.") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise UnsafeTarget("Seules les URL http(s) avec un nom d'hôte sont acceptées.")
    if scheme != "https" and rules.require_https:
        raise UnsafeTarget("Seules les URL https sont acceptées hors développement.")
    if parts.username or parts.password:
        raise UnsafeTarget("L'URL ne doit pas contenir d'identifiants.")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """The addresses of ``host`` (an IP literal is its own)."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    lookup = asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        infos = await asyncio.wait_for(lookup, RESOLVE_TIMEOUT_SECONDS)
    except (socket.gaierror, UnicodeError, TimeoutError) as exc:
        raise UnresolvedTarget("Le nom d'hôte du récepteur ne se résout pas.") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise UnresolvedTarget("Le nom d'hôte du récepteur ne se résout pas.")
    return tuple(found)


async def check(url: str, rules: TargetRules) -> CheckedTarget:
    """The target, resolved and allowed; :class:`UnsafeTarget` if any of its addresses is not,
    :class:`UnresolvedTarget` if the name does not resolve."""
    scheme, host, port = parse(url, rules)
    addresses = await resolve(host, port)
    for address in addresses:
        reason = refusal(address, rules)
        if reason is not None:
            raise UnsafeTarget(f"Cible de webhook refusée : {reason}.")
    return CheckedTarget(scheme, host, port, addresses)

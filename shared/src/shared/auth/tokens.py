"""Bearer tokens (JWT) and the principal they describe.

Claims: ``sub``; ``role`` (counsellor, agency, ops, steering); scope claims: the counsellor's
prescribing organisation, ``org_kind`` (``france_travail``, ``cap_emploi``,
``mission_locale``: the convention's axis 3 partners) and ``org_code`` — ``ft_structure`` alone
still says a France Travail structure —,
``agency_id`` and ``network_id`` (for agency integrations); ``pmsmp_validator``, a boolean a
counsellor's token may carry (the structure's PMSMP validator, who decides a convention under the
two-step review); ``iss``, ``aud``, ``exp``, ``iat``.
HS256 with a shared secret is for development; production verifies RS256 with the identity
provider's public key (``shared.settings`` refuses anything else at start-up).

Verification fails closed: ``exp`` and ``iat`` are required, a lifetime over the service's
``jwt_max_lifetime_seconds`` is refused, and every claim we read must be a string of bounded
length — a list, a number or an object in ``role`` or a scope claim is a :class:`TokenError`
(401), never a 500; ``pmsmp_validator`` must be a JSON boolean (not ``"true"``, not ``1``) and
is refused on any role but a counsellor's. :class:`TokenError` messages are French: they reach
the client as the problem's ``detail``.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from shared.settings import ServiceSettings

#: Clock skew tolerated between the identity provider and us, in seconds.
LEEWAY_SECONDS = 30
#: Longest accepted value of each claim we read (the stores' columns are sized to match).
CLAIM_MAX_LENGTH = {
    "sub": 200,
    "role": 32,
    "ft_structure": 32,
    "org_kind": 32,
    "org_code": 16,
    "agency_id": 64,
    "network_id": 64,
}
#: How many verified tokens a verifier remembers (then it starts again from none).
VERIFIED_TOKENS_KEPT = 4096
#: Longest :attr:`Principal.key` (the idempotency records' column).
PRINCIPAL_KEY_MAX_LENGTH = 255
#: Claims that scope a principal to an organisation; optional, but strings when present.
SCOPE_CLAIMS = ("ft_structure", "org_kind", "org_code", "agency_id", "network_id")
#: The boolean claim saying a counsellor is the structure's PMSMP validator (two-step review).
PMSMP_VALIDATOR_CLAIM = "pmsmp_validator"


class Role(enum.StrEnum):
    COUNSELLOR = "counsellor"
    AGENCY = "agency"
    OPS = "ops"
    #: The convention's steering (comité de pilotage, regional steering): aggregated figures and
    #: the regional conventions, never a personal row.
    STEERING = "steering"


class OrganisationKind(enum.StrEnum):
    """The prescribing organisations of the convention (axis 3): a counsellor belongs to one."""

    FRANCE_TRAVAIL = "france_travail"
    CAP_EMPLOI = "cap_emploi"
    MISSION_LOCALE = "mission_locale"

    @property
    def label(self) -> str:
        return _ORGANISATION_LABELS[self]


_ORGANISATION_LABELS = {
    OrganisationKind.FRANCE_TRAVAIL: "France Travail",
    OrganisationKind.CAP_EMPLOI: "Cap emploi",
    OrganisationKind.MISSION_LOCALE: "Mission locale",
}


def organisation_key(kind: OrganisationKind, code: str) -> str:
    """How the stores name a prescribing organisation (their ``structure_code`` columns): a France
    Travail structure by its bare code (as before organisations were modelled), the others as
    ``<kind>:<code>`` — never equal to a France Travail code."""
    if kind is OrganisationKind.FRANCE_TRAVAIL:
        return code
    return f"{kind.value}:{code}"


class TokenError(Exception):
    """The token is missing, malformed, expired, or not for us."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    ft_structure: str | None = None
    agency_id: str | None = None
    network_id: str | None = None
    #: The counsellor's prescribing organisation (France Travail when only ``ft_structure`` is
    #: given, then ``organisation_code`` is that structure code).
    organisation_kind: OrganisationKind | None = None
    organisation_code: str | None = None
    #: A counsellor who may decide a PMSMP convention under the two-step review (the validator,
    #: after another counsellor's pre-validation). A permission, not an identity: not part of
    #: :attr:`key` (idempotency records and rate limits are the same caller's either way).
    pmsmp_validator: bool = False

    def __post_init__(self) -> None:
        # A principal built with ft_structure alone (as before organisations were modelled) is
        # a France Travail structure's.
        if self.ft_structure and self.organisation_kind is None:
            object.__setattr__(self, "organisation_kind", OrganisationKind.FRANCE_TRAVAIL)
            object.__setattr__(self, "organisation_code", self.ft_structure)

    @property
    def organisation(self) -> str | None:
        """The organisation's key in the stores (:func:`organisation_key`), None without one."""
        if self.organisation_kind is None or not self.organisation_code:
            return None
        return organisation_key(self.organisation_kind, self.organisation_code)

    @property
    def key(self) -> str:
        """Stable identity of the whole caller for per-caller records (idempotency keys, rate
        limits): role, subject and organisation, so that the same subject in another structure
        or network is another caller. At most 255 characters (the stores' column)."""
        key = f"{self.role.value}:{self.subject}"
        if self.organisation_kind is OrganisationKind.FRANCE_TRAVAIL:
            key += f"@ft:{self.organisation_code}"
        elif self.organisation:
            key += f"@org:{self.organisation}"
        if self.network_id or self.agency_id:
            key += f"@agency:{self.network_id or ''}/{self.agency_id or ''}"
        if len(key) > PRINCIPAL_KEY_MAX_LENGTH:
            key = f"{self.role.value}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        return key


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self._algorithm = settings.jwt_algorithm
        #: RS256 keys by ``kid`` (rotation: the new key is listed before the issuer uses it,
        #: the old one removed once its tokens have expired).
        self._keys: dict[str, Any] = {}
        if self._algorithm == "RS256":
            if settings.jwt_public_keys:
                self._keys = load_public_keys(settings.jwt_public_keys)
            if not settings.jwt_public_key and not self._keys:
                raise ValueError("RS256 needs jwt_public_key or jwt_public_keys")
            # A token without ``kid``: the single PEM key, or the only key listed.
            self._key: Any = _parsed_pem(settings.jwt_public_key) or (
                next(iter(self._keys.values())) if len(self._keys) == 1 else None
            )
        elif self._algorithm == "HS256":
            if settings.jwt_secret is None:
                raise ValueError("HS256 needs jwt_secret")
            self._key = settings.jwt_secret.get_secret_value()
        else:
            raise ValueError(f"unsupported JWT algorithm {self._algorithm}")
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._max_lifetime = settings.jwt_max_lifetime_seconds
        #: Tokens already verified: their principal and ``exp`` (a client sends the same token on
        #: every request until it expires). Only a successful verification is kept; what can
        #: change with time — expiry — is checked again on every use.
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if expires > datetime.now(UTC).timestamp() - LEEWAY_SECONDS:  # as PyJWT
                return principal
            del self._verified[token]
            raise TokenError("Jeton expiré.")
        principal, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        claims = self._decode(token)
        self._check_lifetime(claims)
        values = {name: _string_claim(claims, name) for name in ("sub", "role", *SCOPE_CLAIMS)}
        subject, role_name = values["sub"], values["role"]
        if not subject or not role_name:
            raise TokenError("Jeton incomplet : « sub » et « role » sont obligatoires.")
        try:
            role = Role(role_name)
        except ValueError as exc:
            raise TokenError(
                f"Rôle inconnu dans le jeton (attendu : {', '.join(r.value for r in Role)})."
            ) from exc
        kind, code = _organisation(values)
        pmsmp_validator = _bool_claim(claims, PMSMP_VALIDATOR_CLAIM)
        if pmsmp_validator and role is not Role.COUNSELLOR:
            raise TokenError(
                f"Jeton invalide : « {PMSMP_VALIDATOR_CLAIM} » ne vaut que pour un conseiller."
            )
        principal = Principal(
            subject=subject,
            role=role,
            ft_structure=code if kind is OrganisationKind.FRANCE_TRAVAIL else None,
            agency_id=values["agency_id"],
            network_id=values["network_id"],
            organisation_kind=kind,
            organisation_code=code,
            pmsmp_validator=pmsmp_validator,
        )
        if role is Role.COUNSELLOR and principal.organisation is None:
            raise TokenError(
                "Un jeton de conseiller doit porter sa structure : « org_kind » et « org_code »"
                " (ou « ft_structure » pour France Travail)."
            )
        if role is Role.AGENCY and not (principal.agency_id and principal.network_id):
            raise TokenError("Un jeton d'agence doit porter « agency_id » et « network_id ».")
        return principal, float(claims["exp"])

    def _verification_key(self, token: str) -> Any:
        if not self._keys:
            return self._key
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.DecodeError as exc:
            raise TokenError("Jeton illisible ou mal formé.") from exc
        if kid is None:
            if self._key is None:
                raise TokenError("Jeton sans identifiant de clé (« kid ») : il est obligatoire.")
            return self._key
        if not isinstance(kid, str) or kid not in self._keys:
            raise TokenError("Clé de signature du jeton inconnue (« kid »).")
        return self._keys[kid]

    def _decode(self, token: str) -> dict[str, Any]:
        key = self._verification_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["sub", "exp", "iat", "role"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("Jeton expiré.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"Jeton incomplet : « {exc.claim} » est obligatoire.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenError("Jeton pas encore valable (« iat » ou « nbf » futur).") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("Jeton destiné à un autre destinataire (« aud »).") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("Émetteur du jeton non reconnu (« iss »).") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError("Signature du jeton invalide.") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise TokenError("Algorithme de signature du jeton refusé.") from exc
        except (jwt.exceptions.InvalidSubjectError, jwt.InvalidIssuedAtError) as exc:
            raise TokenError("Jeton invalide : « sub » ou « iat » mal formé.") from exc
        except jwt.DecodeError as exc:
            raise TokenError("Jeton illisible ou mal formé.") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError("Jeton invalide.") from exc
        return claims

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        # PyJWT has checked that both are integers; bool is an int to Python, not to us.
        issued_at, expires = claims["iat"], claims["exp"]
        if isinstance(issued_at, bool) or isinstance(expires, bool):
            raise TokenError("Jeton invalide : « iat » et « exp » sont des dates numériques.")
        now = datetime.now(UTC).timestamp()
        hours = self._max_lifetime / 3600
        if expires - issued_at > self._max_lifetime or expires - now > self._max_lifetime + (
            LEEWAY_SECONDS
        ):
            raise TokenError(
                f"Durée de validité du jeton trop longue : {hours:g} h au plus entre « iat » et "
                "« exp »."
            )


def _parsed_pem(pem: str | None) -> Any:
    """The PEM public key parsed once (PyJWT would parse the text on every verification); the
    text itself if it does not parse, so that it fails as before, at verification."""
    if not pem:
        return pem
    try:
        return load_pem_public_key(pem.encode())
    except ValueError:
        return pem


def load_public_keys(text: str) -> dict[str, Any]:
    """RS256 public keys by ``kid`` from a JWKS document or a JSON object kid → PEM."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ValueError("jwt_public_keys: JSON expected (JWKS or kid → PEM)") from exc
    keys: dict[str, Any] = {}
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        for jwk in document["keys"]:
            kid = jwk.get("kid") if isinstance(jwk, dict) else None
            if not isinstance(kid, str) or not kid:
                raise ValueError("jwt_public_keys: every JWK needs a 'kid'")
            if jwk.get("kty") != "RSA" or jwk.get("d") is not None:
                raise ValueError(f"jwt_public_keys: {kid} is not an RSA public key")
            keys[kid] = jwt.PyJWK(jwk, algorithm="RS256").key
    elif isinstance(document, dict):
        for kid, pem in document.items():
            if not isinstance(pem, str) or "PRIVATE" in pem:
                raise ValueError(f"jwt_public_keys: {kid} is not a PEM public key")
            keys[kid] = load_pem_public_key(pem.encode())
    else:
        raise ValueError("jwt_public_keys: JSON expected (JWKS or kid → PEM)")
    if not keys:
        raise ValueError("jwt_public_keys: no key")
    return keys


def _organisation(values: dict[str, str | None]) -> tuple[OrganisationKind | None, str | None]:
    """The prescribing organisation the claims name; ``ft_structure`` alone is France Travail's,
    and when both forms are given they must agree."""
    ft_structure, kind_name, code = values["ft_structure"], values["org_kind"], values["org_code"]
    if kind_name is None and code is None:
        return (OrganisationKind.FRANCE_TRAVAIL, ft_structure) if ft_structure else (None, None)
    if kind_name is None or not code:
        raise TokenError("Jeton invalide : « org_kind » et « org_code » vont ensemble.")
    try:
        kind = OrganisationKind(kind_name)
    except ValueError as exc:
        raise TokenError(
            "Jeton invalide : « org_kind » inconnu (attendu : "
            f"{', '.join(k.value for k in OrganisationKind)})."
        ) from exc
    if ft_structure and (kind is not OrganisationKind.FRANCE_TRAVAIL or ft_structure != code):
        raise TokenError("Jeton invalide : « ft_structure » contredit « org_kind »/« org_code ».")
    return kind, code


def _string_claim(claims: dict[str, Any], name: str) -> str | None:
    """The claim as a string, ``None`` when absent or null; anything else is refused."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenError(f"Jeton invalide : « {name} » doit être une chaîne de caractères.")
    if len(value) > CLAIM_MAX_LENGTH[name]:
        raise TokenError(
            f"Jeton invalide : « {name} » dépasse {CLAIM_MAX_LENGTH[name]} caractères."
        )
    return value


def _bool_claim(claims: dict[str, Any], name: str) -> bool:
    """The claim as a boolean, ``False`` when absent or null; only a JSON boolean is accepted
    (``"true"``, ``1`` or a list are refused: bool is an int to Python, not to us)."""
    value = claims.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise TokenError(f"Jeton invalide : « {name} » doit être un booléen (true ou false).")
    return value


def mint_token(
    *,
    key: str,
    subject: str,
    role: Role,
    algorithm: str = "HS256",
    issuer: str,
    audience: str,
    ttl: timedelta = timedelta(hours=12),
    ft_structure: str | None = None,
    agency_id: str | None = None,
    network_id: str | None = None,
    org_kind: OrganisationKind | str | None = None,
    org_code: str | None = None,
    kid: str | None = None,
    pmsmp_validator: bool = False,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    for name, value in (
        ("ft_structure", ft_structure),
        ("agency_id", agency_id),
        ("network_id", network_id),
        ("org_kind", str(org_kind) if org_kind else None),
        ("org_code", org_code),
    ):
        if value:
            claims[name] = value
    if pmsmp_validator:
        claims[PMSMP_VALIDATOR_CLAIM] = True
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)

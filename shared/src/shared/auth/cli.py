"""``coop-token``: mint a token for a service, from the same variables the service reads.

``--service referral`` (or ``--env-prefix REFERRAL_``) reads ``REFERRAL_JWT_ALGORITHM``,
``REFERRAL_JWT_SECRET``, ``REFERRAL_JWT_ISSUER``, ``REFERRAL_JWT_AUDIENCE``,
``REFERRAL_JWT_MAX_LIFETIME_SECONDS`` and ``REFERRAL_ENVIRONMENT``, exactly as the referral service
does; without either, the unprefixed names (``JWT_SECRET``…). With no secret set, the token is
signed with the development secret, which a service accepts only with ``ENVIRONMENT=development``
(``make up`` sets it); coop-token refuses to when the variables declare ``test`` or ``production``.
RS256 needs the identity provider's private key (``--private-key``).

Examples: ``coop-token --service referral --role counsellor --sub conseiller.dupont
--ft-structure 75101`` (a France Travail structure); ``coop-token --service referral --role
counsellor --sub conseillere.cap --org-kind cap_emploi --org-code CE059`` (a Cap emploi or a
mission locale: the ``org_kind``/``org_code`` claims); add ``--pmsmp-validator`` for the
structure's PMSMP validator (claim ``pmsmp_validator``: decides a convention under the two-step
review).
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path

from shared.auth.tokens import OrganisationKind, Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

DEFAULT_HOURS = 12.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="coop-token",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    parser.add_argument("--sub", default=None, help="subject (default: dev-<role>)")
    parser.add_argument("--ft-structure", help="France Travail structure code (counsellors)")
    parser.add_argument(
        "--org-kind",
        choices=[kind.value for kind in OrganisationKind],
        help="prescribing organisation of a counsellor (claim org_kind), with --org-code",
    )
    parser.add_argument("--org-code", help="the organisation's code (claim org_code)")
    parser.add_argument(
        "--pmsmp-validator",
        action="store_true",
        help="the counsellor is the structure's PMSMP validator (claim pmsmp_validator: decides "
        "a convention under the two-step review)",
    )
    parser.add_argument("--agency-id", help="agency id (agency role)")
    parser.add_argument("--network-id", help="agency network id (agency role)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--service", help="read the service's variables: referral → REFERRAL_JWT_SECRET…"
    )
    target.add_argument("--env-prefix", help="read <PREFIX>JWT_* variables, e.g. REFERRAL_")
    parser.add_argument(
        "--hours", type=float, default=None, help="validity in hours (default: 12 h or less)"
    )
    parser.add_argument("--secret", help="HS256 secret (default: <PREFIX>JWT_SECRET)")
    parser.add_argument("--private-key", type=Path, help="RS256 private key, PEM file")
    parser.add_argument("--kid", help="RS256 key id put in the token's header (key rotation)")
    parser.add_argument("--issuer", help="default: <PREFIX>JWT_ISSUER or coop-platform-dev")
    parser.add_argument("--audience", help="default: <PREFIX>JWT_AUDIENCE or coop-platform")
    args = parser.parse_args(argv)

    prefix = args.env_prefix if args.env_prefix is not None else ""
    if args.service:
        prefix = args.service.upper().replace("-", "_") + "_"
    prefix = prefix.upper()

    def env(name: str) -> str | None:
        return os.environ.get(prefix + name) or None

    role = Role(args.role)
    if (args.org_kind is None) != (args.org_code is None):
        parser.error("--org-kind et --org-code vont ensemble")
    if args.org_kind and role is not Role.COUNSELLOR:
        parser.error("--org-kind et --org-code désignent la structure d'un conseiller")
    if (
        args.org_kind
        and args.ft_structure
        and (args.org_kind != OrganisationKind.FRANCE_TRAVAIL or args.ft_structure != args.org_code)
    ):
        parser.error("--ft-structure contredit --org-kind/--org-code")
    if role is Role.COUNSELLOR and not (args.ft_structure or args.org_kind):
        parser.error(
            "--ft-structure est obligatoire pour un conseiller France Travail "
            "(--org-kind et --org-code pour une autre structure)"
        )
    if args.pmsmp_validator and role is not Role.COUNSELLOR:
        parser.error("--pmsmp-validator ne vaut que pour un conseiller (--role counsellor)")
    if role is Role.AGENCY and not (args.agency_id and args.network_id):
        parser.error("--agency-id et --network-id sont obligatoires pour une agence")

    algorithm = (env("JWT_ALGORITHM") or "HS256").upper()
    if algorithm == "RS256":
        if args.private_key is None:
            parser.error(f"{prefix}JWT_ALGORITHM=RS256 : la clé privée est requise (--private-key)")
        key = args.private_key.read_text()
    elif algorithm == "HS256":
        key = args.secret or env("JWT_SECRET") or ""
        environment = env("ENVIRONMENT")
        if not key:
            # Unset is fine here (a developer's shell): minting grants nothing by itself, and the
            # services of `make up` say development. A declared test or production never would.
            if environment is not None and environment != "development":
                parser.error(
                    f"{prefix}JWT_SECRET absent et {prefix}ENVIRONMENT={environment} : ce service "
                    "refuse le secret de développement (donnez --secret, ou "
                    f"{prefix}ENVIRONMENT=development pour un poste de développement)"
                )
            key = DEVELOPMENT_JWT_SECRET
    else:
        parser.error(f"{prefix}JWT_ALGORITHM={algorithm} : seuls HS256 et RS256 sont acceptés")

    max_hours = _max_hours(parser, prefix, env("JWT_MAX_LIFETIME_SECONDS"))
    hours = args.hours if args.hours is not None else min(DEFAULT_HOURS, max_hours)
    if not 0 < hours <= max_hours:
        parser.error(
            f"--hours {hours:g} : le service accepte {max_hours:g} h au plus "
            f"({prefix}JWT_MAX_LIFETIME_SECONDS)"
        )
    print(
        mint_token(
            key=key,
            subject=args.sub or f"dev-{role.value}",
            role=role,
            algorithm=algorithm,
            issuer=args.issuer or env("JWT_ISSUER") or "coop-platform-dev",
            audience=args.audience or env("JWT_AUDIENCE") or "coop-platform",
            ttl=timedelta(hours=hours),
            ft_structure=args.ft_structure,
            org_kind=args.org_kind,
            org_code=args.org_code,
            agency_id=args.agency_id,
            network_id=args.network_id,
            kid=args.kid,
            pmsmp_validator=args.pmsmp_validator,
        )
    )


def _max_hours(parser: argparse.ArgumentParser, prefix: str, value: str | None) -> float:
    if value is None:
        return DEFAULT_HOURS
    try:
        seconds = int(value)
    except ValueError:
        parser.error(f"{prefix}JWT_MAX_LIFETIME_SECONDS={value!r} : nombre de secondes attendu")
    return seconds / 3600


if __name__ == "__main__":
    main()

"""``coop-token``: mint a development token (HS256, the development secret by default).

Example: ``coop-token --role counsellor --sub conseiller.dupont --ft-structure 75101``
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta

from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coop-token", description=__doc__)
    parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    parser.add_argument("--sub", default=None, help="subject (default: dev-<role>)")
    parser.add_argument("--ft-structure", help="France Travail structure code (counsellors)")
    parser.add_argument("--agency-id", help="agency id (agency role)")
    parser.add_argument("--network-id", help="agency network id (agency role)")
    parser.add_argument("--hours", type=float, default=12.0, help="validity in hours")
    parser.add_argument(
        "--secret",
        default=os.environ.get("COOP_JWT_SECRET", DEVELOPMENT_JWT_SECRET),
        help="HS256 secret (default: $COOP_JWT_SECRET or the development secret)",
    )
    parser.add_argument("--issuer", default=os.environ.get("COOP_JWT_ISSUER", "coop-platform-dev"))
    parser.add_argument("--audience", default=os.environ.get("COOP_JWT_AUDIENCE", "coop-platform"))
    args = parser.parse_args(argv)
    role = Role(args.role)
    if role is Role.COUNSELLOR and not args.ft_structure:
        parser.error("--ft-structure is required for a counsellor")
    if role is Role.AGENCY and not (args.agency_id and args.network_id):
        parser.error("--agency-id and --network-id are required for an agency")
    print(
        mint_token(
            key=args.secret,
            subject=args.sub or f"dev-{role.value}",
            role=role,
            issuer=args.issuer,
            audience=args.audience,
            ttl=timedelta(hours=args.hours),
            ft_structure=args.ft_structure,
            agency_id=args.agency_id,
            network_id=args.network_id,
        )
    )


if __name__ == "__main__":
    main()

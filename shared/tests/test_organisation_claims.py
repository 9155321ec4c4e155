"""A counsellor's token names their prescribing organisation (issue 10, item 1): France Travail,
Cap emploi or mission locale, by ``org_kind`` and ``org_code``; ``ft_structure`` alone is France
Travail's; contradictory or partial claims are a 401, never a 500."""

from __future__ import annotations

import time

import jwt
import pytest

from shared.auth.tokens import (
    OrganisationKind,
    Principal,
    Role,
    TokenError,
    TokenVerifier,
    mint_token,
)
from shared.settings import ServiceSettings

SECRET = "test-secret-with-enough-length-for-hs256"
VERIFIER = TokenVerifier(
    ServiceSettings(database_url="sqlite+aiosqlite://", jwt_secret=SECRET)  # type: ignore[arg-type]
)


def _mint(**claims: object) -> str:
    return mint_token(
        key=SECRET,
        subject="alice",
        role=Role.COUNSELLOR,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )


def test_ft_structure_alone_is_a_france_travail_structure() -> None:
    principal = VERIFIER.verify(_mint(ft_structure="75101"))
    assert principal.organisation_kind is OrganisationKind.FRANCE_TRAVAIL
    assert (principal.organisation_code, principal.organisation) == ("75101", "75101")
    assert principal.key == "counsellor:alice@ft:75101"


def test_cap_emploi_and_mission_locale_are_organisations_of_their_own() -> None:
    cap = VERIFIER.verify(_mint(org_kind="cap_emploi", org_code="75101"))
    assert (cap.organisation, cap.ft_structure) == ("cap_emploi:75101", None)
    ml = VERIFIER.verify(_mint(org_kind="mission_locale", org_code="75101"))
    ft = VERIFIER.verify(_mint(org_kind="france_travail", org_code="75101"))
    assert ft.ft_structure == "75101"
    assert len({cap.organisation, ml.organisation, ft.organisation}) == 3
    assert len({cap.key, ml.key, ft.key}) == 3  # idempotency records and rate limits apart
    assert OrganisationKind.MISSION_LOCALE.label == "Mission locale"


@pytest.mark.parametrize(
    "claims",
    [
        {"org_kind": "cap_emploi"},
        {"org_code": "CE075"},
        {"org_kind": "pole_emploi", "org_code": "75101"},
        {"org_kind": "cap_emploi", "org_code": "75101", "ft_structure": "75101"},
        {"org_kind": "france_travail", "org_code": "75101", "ft_structure": "59350"},
        {"org_kind": ["cap_emploi"], "org_code": "CE075"},
        {"org_kind": "cap_emploi", "org_code": "C" * 17},
        {},
    ],
)
def test_partial_unknown_or_contradictory_organisation_claims_are_refused(
    claims: dict[str, object],
) -> None:
    token = jwt.encode(
        {
            "sub": "alice",
            "role": "counsellor",
            "iss": "coop-platform-dev",
            "aud": "coop-platform",
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
            **claims,
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenError):
        VERIFIER.verify(token)


def test_a_principal_built_with_ft_structure_is_france_travail_s() -> None:
    principal = Principal("bob", Role.COUNSELLOR, ft_structure="59350")
    assert principal.organisation == "59350"
    assert Principal("ops", Role.OPS).organisation is None

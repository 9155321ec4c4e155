"""Schemathesis over the three services' OpenAPI documents (issue 10, "Done when"): every
operation, with examples generated from its schema (valid and invalid), is called with a token of
each role — a counsellor (France Travail structure), a counsellor of another kind of organisation,
ops, an agency — and without one. No answer is a 5xx, and an answer the document describes
conforms to it.

Reproducible and bounded: hypothesis derandomized (a fixed seed), a few examples per operation,
no shrinking database; the whole run stays within a few minutes on a loaded machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import schemathesis
import schemathesis.python.asgi as asgi
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
)

from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

#: Examples per operation (each one sent with every token below).
EXAMPLES = 5


def _bearer(role: Role, subject: str, **claims: str) -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=subject,
        role=role,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {token}"}


TOKENS = {
    "counsellor-ft": _bearer(Role.COUNSELLOR, "conseiller.fuzz", ft_structure="59350"),
    "counsellor-cap-emploi": _bearer(
        Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="CE059"
    ),
    "ops": _bearer(Role.OPS, "ops.fuzz"),
    "agency": _bearer(
        Role.AGENCY, "erp.fuzz", agency_id="agc-interim-nord-lille", network_id="interim-nord"
    ),
    "anonymous": {},
}
CHECKS = [response_schema_conformance]
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _server_error(response: Any) -> str | None:
    status = int(response.status_code)
    return f"{status}: {response.text[:300]}" if status >= 500 else None


def _call_with_every_token(case: schemathesis.Case, failures: list[str]) -> None:
    # The document's security scheme makes schemathesis send an Authorization of its own: the
    # caller's token replaces it.
    generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for name, token in TOKENS.items():
        case.headers = {**generated, **token}
        where = f"{name}: {case.method} {case.formatted_path} {case.query or ''}"
        try:
            response = case.call()
        except Exception as crash:  # the in-process transport re-raises what the app did not catch
            failures.append(f"{where} → 500 (unhandled {type(crash).__name__}: {crash})"[:600])
            continue
        if (error := _server_error(response)) is not None:
            failures.append(f"{where} → {error}")
            continue
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            failures += [f"{where} → {type(e).__name__}: {e.title}" for e in group.exceptions]


def _fuzz(app: FastAPI, rows: Mapping[str, str] | None = None) -> list[str]:
    """Every operation of the app's document, examples valid then invalid; then, for the
    operations whose path names only ``rows`` (ids of rows in the store), valid examples on those
    rows, so that the fuzzer reaches past the 404s. What failed."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        passes: list[tuple[GenerationMode, dict[str, str]]] = [
            (GenerationMode.POSITIVE, {}),
            (GenerationMode.NEGATIVE, {}),
        ]
        if names and rows is not None and names <= set(rows):
            passes.append((GenerationMode.POSITIVE, {n: rows[n] for n in names}))
        for mode, fixed in passes:
            seen: list[str] = []
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed or None)

            @FUZZ
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                _call_with_every_token(case, seen)  # noqa: B023 (run at once, below)

            try:
                run()
            except Unsatisfiable:
                # No invalid input exists (an operation without parameters nor body).
                assert mode is GenerationMode.NEGATIVE, operation.label
            # One line per distinct failure: an example that fails fails for every token.
            failures += sorted(set(seen))
    return failures


def _referral_rows(app: FastAPI) -> dict[str, str]:
    """A job seeker of the fuzzing counsellor's structure, with a consent, a share and a
    referral; the seeded agency and network; created through the API, in the app's own loop."""
    owner = TOKENS["counsellor-ft"]
    with asgi.get_client(app) as client:

        def post(path: str, body: dict[str, object]) -> dict[str, str]:
            response = client.post(
                path, json=body, headers={**owner, "Idempotency-Key": str(uuid.uuid4())}
            )
            assert response.status_code == 201, response.text
            return response.json()  # type: ignore[no-any-return]

        seeker = post(
            "/v1/job-seekers",
            {"ft_identifier": "5935001F", "first_name": "Nora", "last_name": "Fuzz", "rqth": True},
        )
        base = f"/v1/job-seekers/{seeker['id']}"
        agency = {"agency_id": "agc-interim-nord-lille"}
        consent = post(f"{base}/consents", {**agency, "scope": "identity", "channel": "in_person"})
        share = post(
            f"{base}/shares",
            {"organisation_kind": "cap_emploi", "organisation_code": "CE059", "reason": "fuzz"},
        )
        referral = post(
            "/v1/referrals",
            {**agency, "job_seeker_id": seeker["id"], "rome_code": "H2913", "message": "Fuzz."},
        )
        offers = client.get("/v1/offers", headers=owner).json()["items"]
    return {
        "job_seeker_id": seeker["id"],
        "consent_id": consent["id"],
        "share_id": share["id"],
        "referral_id": referral["id"],
        "offer_id": offers[0]["id"],
        "agency_id": "agc-interim-nord-lille",
        "network_id": "interim-nord",
    }


def test_referral_api_answers_no_5xx(referral_api: FastAPI) -> None:
    failures = _fuzz(referral_api, _referral_rows(referral_api))
    assert not failures, "\n".join(failures)


def test_dispositifs_api_answers_no_5xx(dispositifs_api: FastAPI) -> None:
    failures = _fuzz(dispositifs_api)
    assert not failures, "\n".join(failures)


def test_notifications_api_answers_no_5xx(notifications_api: FastAPI) -> None:
    failures = _fuzz(notifications_api)
    assert not failures, "\n".join(failures)

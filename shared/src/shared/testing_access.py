"""The access matrix of a service's HTTP API, for its tests (issue 10, "Done when").

Each service's matrix test declares one :class:`RoutePolicy` per route (who may call it, what a
counsellor of another organisation gets) and calls the checks here, which take the routes from the
app itself (its OpenAPI document): a route without a policy fails, a public route must be in
:data:`PUBLIC_PATHS`. For every non-public route: no token → 401, each role not allowed → 403,
and the caller of another organisation is refused (403/404), sees the record masked, or does not
find the other organisation's rows in a list — as the policy says.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth.tokens import Role

#: Routes anyone may call: they carry no personal data.
PUBLIC_PATHS = frozenset(
    {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/asyncapi.yaml",
        "/asyncapi.json",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)


class Cross(enum.StrEnum):
    """What a counsellor of another organisation gets from a route."""

    #: 403 or 404, and nothing of the other organisation's row in the answer.
    REFUSED = "refused"
    #: 200, and none of the other organisation's row ids in the list.
    HIDDEN = "hidden"
    #: 200 with ``"masked": true``.
    MASKED = "masked"
    #: The route carries no personal data and no organisation's rows (directory, referentials):
    #: every allowed caller sees the same. ``why`` says so.
    NOT_SCOPED = "not_scoped"
    #: Ops only: the other organisation's counsellor is refused by role (403).
    OPS_ONLY = "ops_only"
    #: 200, and the policy's ``expect`` holds on the answer (figures of one's own organisation).
    OWN_FIGURES = "own_figures"


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    roles: frozenset[Role]
    cross: Cross
    #: A valid body for the other organisation's call (so that a 422 never hides a leak).
    body: Mapping[str, Any] | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    #: Statuses accepted for :attr:`Cross.REFUSED` (a body naming a referral of another
    #: structure is answered as unknown: 422 on that field).
    refused_with: frozenset[int] = frozenset({403, 404})
    why: str = ""
    expect: Callable[[httpx.Response], bool] | None = None


def policy(
    *roles: Role,
    cross: Cross,
    body: Mapping[str, Any] | None = None,
    query: Mapping[str, str] | None = None,
    refused_with: Iterable[int] = (403, 404),
    why: str = "",
    expect: Callable[[httpx.Response], bool] | None = None,
) -> RoutePolicy:
    return RoutePolicy(
        frozenset(roles), cross, body, dict(query or {}), frozenset(refused_with), why, expect
    )


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, from its OpenAPI document."""
    routes = set()
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                routes.add((method.upper(), path))
    return routes


def unmatched(app: FastAPI, policies: Mapping[tuple[str, str], RoutePolicy]) -> list[str]:
    """Routes with no policy (and not public), and policies of routes that no longer exist."""
    routes = api_routes(app)
    missing = [
        f"no policy: {m} {p}"
        for m, p in sorted(routes)
        if p not in PUBLIC_PATHS and (m, p) not in policies
    ]
    stale = [f"no such route: {m} {p}" for m, p in sorted(set(policies) - routes)]
    return missing + stale


def fill(path: str, ids: Mapping[str, str]) -> str:
    """The path with its parameters replaced by the ids of the rows set up for the matrix."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ids:
            raise KeyError(f"the matrix has no row for path parameter {name!r} ({path})")
        return ids[name]

    return re.sub(r"\{(\w+)\}", value, path)


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    route: RoutePolicy,
) -> httpx.Response:
    all_headers = {"Idempotency-Key": str(uuid.uuid4()), **(headers or {})}
    kwargs: dict[str, Any] = {"headers": all_headers, "params": dict(route.query)}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["content"] = json.dumps(dict(route.body or {}))
        all_headers["Content-Type"] = "application/json"
    return await client.request(method, path, **kwargs)


async def check_unauthenticated(
    client: httpx.AsyncClient, method: str, path: str, route: RoutePolicy
) -> list[str]:
    response = await call(client, method, path, None, route)
    if response.status_code != 401:
        return [f"{method} {path} without a token: {response.status_code}, not 401"]
    return []


async def check_wrong_roles(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    route: RoutePolicy,
    tokens: Mapping[Role, Mapping[str, str]],
) -> list[str]:
    failures = []
    for role, headers in tokens.items():
        if role in route.roles:
            continue
        response = await call(client, method, path, headers, route)
        if response.status_code != 403:
            failures.append(f"{method} {path} as {role.value}: {response.status_code}, not 403")
    return failures


async def check_other_organisation(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    route: RoutePolicy,
    headers: Mapping[str, str],
    owned_ids: Iterable[str],
    secrets: Iterable[str],
) -> list[str]:
    """``owned_ids``: ids of the first organisation's rows; ``secrets``: its personal data (names,
    contact) that must never show in another organisation's answer."""
    if route.cross is Cross.NOT_SCOPED:
        return [] if route.why else [f"{method} {path}: not scoped, but no reason given"]
    response = await call(client, method, path, headers, route)
    text = response.text
    failures = []
    leaked = [s for s in secrets if s in text]
    if leaked:
        failures.append(f"{method} {path} as another organisation: personal data in the answer")
    status = response.status_code
    if route.cross is Cross.OPS_ONLY and status != 403:
        failures.append(f"{method} {path} as another organisation: {status}, not 403")
    elif route.cross is Cross.REFUSED and status not in route.refused_with:
        failures.append(
            f"{method} {path} as another organisation: {status}, not {sorted(route.refused_with)}"
        )
    elif route.cross is Cross.HIDDEN:
        if status != 200:
            failures.append(f"{method} {path} as another organisation: {status}, not 200")
        elif any(i in text for i in owned_ids):
            failures.append(f"{method} {path} lists another organisation's rows")
    elif route.cross is Cross.MASKED and (
        status != 200 or response.json().get("masked") is not True
    ):
        failures.append(f"{method} {path} as another organisation: not masked ({status})")
    elif route.cross is Cross.OWN_FIGURES and (
        status != 200 or route.expect is None or not route.expect(response)
    ):
        failures.append(f"{method} {path} as another organisation: not its own figures ({status})")
    return failures


def _filled(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, ids)
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    return value


def with_ids(route: RoutePolicy, ids: Mapping[str, str]) -> RoutePolicy:
    """The policy with ``{name}`` placeholders of its body (nested too) replaced by the ids."""
    if route.body is None:
        return route
    return RoutePolicy(
        route.roles,
        route.cross,
        _filled(dict(route.body), ids),
        route.query,
        route.refused_with,
        route.why,
        route.expect,
    )


async def run_matrix(
    app: FastAPI,
    client: httpx.AsyncClient,
    policies: Mapping[tuple[str, str], RoutePolicy],
    *,
    ids: Mapping[str, str],
    tokens: Mapping[Role, Mapping[str, str]],
    other: Mapping[str, str],
    owned_ids: Iterable[str],
    secrets: Iterable[str],
) -> list[str]:
    """Every route of the app that has a policy, called with no token, with each role not
    allowed (``tokens``: one caller per role) and as the other organisation (``other``), path
    parameters and body placeholders filled from ``ids`` (the first organisation's rows).
    What failed, one line each (routes without a policy are :func:`unmatched`'s)."""
    owned = list(owned_ids)
    hidden = list(secrets)
    failures: list[str] = []
    for method, template in sorted(api_routes(app)):
        if (method, template) not in policies:
            continue  # reported by unmatched() (public routes too)
        route = with_ids(policies[(method, template)], ids)
        path = fill(template, ids)
        failures += await check_unauthenticated(client, method, path, route)
        failures += await check_wrong_roles(client, method, path, route, tokens)
        failures += await check_other_organisation(
            client, method, path, route, other, owned, hidden
        )
    return failures


#: Well-formed but wrong cursors (issue 10, "Why"): a list of the wrong shape or types, a number
#: where the id goes, a bare number, an object, a time without time zone, not base64 at all.
BAD_CURSORS: tuple[tuple[str, str], ...] = (
    ('["x"]', "WyJ4Il0"),
    ("[41]", "WzQxXQ"),
    ("41", "NDE"),
    ('{"a":1}', "eyJhIjoxfQ"),
    ("[true]", "W3RydWVd"),
    ("[10**20]", "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMF0"),
    ('["2026-01-01T00:00:00+00:00",12]', "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwxMl0"),
    ('["2026-01-01T00:00:00","x"]', "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd"),
    ('["2026-01-01T00:00:00+00:00","12"]', "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwiMTIiXQ"),
    ("not base64", "%%%"),
)


def paged_routes(app: FastAPI) -> list[str]:
    """Every GET path template of the app that takes a ``cursor`` query parameter."""
    paths = []
    for path, operations in app.openapi()["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        if any(p.get("in") == "query" and p.get("name") == "cursor" for p in parameters):
            paths.append(path)
    return sorted(paths)


async def check_cursors(
    app: FastAPI,
    client: httpx.AsyncClient,
    policies: Mapping[tuple[str, str], RoutePolicy],
    *,
    ids: Mapping[str, str],
    tokens: Mapping[Role, Mapping[str, str]],
    positions: Mapping[str, Iterable[str]] | None = None,
) -> list[str]:
    """Every paged list, called by each role its policy allows with each of :data:`BAD_CURSORS`:
    a 422 problem naming ``cursor`` (in ``query``), never a 500 nor a page. ``positions``: the
    labels of :data:`BAD_CURSORS` that are real positions on a route (``["x"]`` on a list keyed
    by a text id), left out there. What failed."""
    failures: list[str] = []
    for template in paged_routes(app):
        route = policies[("GET", template)]
        path = fill(template, ids)
        skipped = set((positions or {}).get(template, ()))
        for role in sorted(route.roles & set(tokens)):
            for label, cursor in BAD_CURSORS:
                if label in skipped:
                    continue
                response = await client.get(
                    path, params={**route.query, "cursor": cursor}, headers=tokens[role]
                )
                fields = []
                if response.status_code == 422:
                    fields = [
                        (e.get("field"), e.get("location"))
                        for e in response.json().get("errors", [])
                    ]
                if response.status_code != 422 or ("cursor", "query") not in fields:
                    failures.append(
                        f"GET {path} as {role.value}, cursor {label}: "
                        f"{response.status_code} {fields or response.text[:120]}"
                    )
    return failures

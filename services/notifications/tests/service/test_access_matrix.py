"""The notifications service's access matrix (issue 10, "Done when"), generated from the app's
routes: every route has a policy (a new one without fails here); for each one no token → 401, a
role not allowed → 403, and a caller of another organisation — a counsellor of another structure,
then another agency — refused, not finding the first one's messages in their inbox, or changing
only their own preferences — on the real store, with the messages really delivered in-app."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import FastAPI

from notifications.jobs import DeliveryWorker
from notifications.settings import NotificationsSettings
from shared.auth.tokens import Role
from shared.db.database import Database
from shared.testing_access import (
    Cross,
    RoutePolicy,
    check_cursors,
    paged_routes,
    policy,
    run_matrix,
    unmatched,
)

from ..conftest import OPS, record_event, token
from .test_api import AGENCY, COUNSELLOR, _changed, _sent

OWNER = token(Role.COUNSELLOR, COUNSELLOR, ft_structure="75101")
OTHER_COUNSELLOR = token(Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="CE059")
OTHER_AGENCY = token(Role.AGENCY, "erp.sud", agency_id="agc-interim-sud-nice", network_id="sud")
TOKENS = {
    Role.COUNSELLOR: OTHER_COUNSELLOR,
    Role.OPS: OPS,
    Role.AGENCY: OTHER_AGENCY,
}
C, A, OP = Role.COUNSELLOR, Role.AGENCY, Role.OPS
#: The first counsellor's and agency's contact details (personal data of the directory).
SECRETS = ("Claire Dupont", "claire.dupont@francetravail.example", "lille@interim-nord.example")
PREFERENCES = {"opted_out_channels": ["email"], "opted_out_kinds": []}


def _marked_nothing(response: httpx.Response) -> bool:
    return bool(response.json() == {"marked": 0})


def _own_preferences(response: httpx.Response) -> bool:
    """The caller's own recipient (their subject or agency), never the first one's."""
    return response.json()["id"] not in {COUNSELLOR, AGENCY}


POLICIES: dict[tuple[str, str], RoutePolicy] = {
    ("GET", "/v1/inbox"): policy(C, A, cross=Cross.HIDDEN),
    ("POST", "/v1/inbox/{message_id}/read"): policy(C, A, cross=Cross.REFUSED),
    ("POST", "/v1/inbox/read-all"): policy(C, A, cross=Cross.OWN_FIGURES, expect=_marked_nothing),
    ("GET", "/v1/preferences"): policy(C, A, cross=Cross.OWN_FIGURES, expect=_own_preferences),
    ("PUT", "/v1/preferences"): policy(
        C, A, cross=Cross.OWN_FIGURES, body=PREFERENCES, expect=_own_preferences
    ),
    ("GET", "/v1/notifications"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/notifications/{notification_id}"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/deliveries"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/deliveries/{delivery_id}"): policy(OP, cross=Cross.OPS_ONLY),
    ("POST", "/v1/deliveries/{delivery_id}/retry"): policy(OP, cross=Cross.OPS_ONLY),
    ("PUT", "/v1/recipients/{kind}/{recipient_id}"): policy(
        OP, cross=Cross.OPS_ONLY, body={"email": "intrus@example.org"}
    ),
    ("GET", "/v1/recipients/{kind}/{recipient_id}"): policy(OP, cross=Cross.OPS_ONLY),
    ("PUT", "/v1/recipients/{kind}/{recipient_id}/preferences"): policy(
        OP, cross=Cross.OPS_ONLY, body=PREFERENCES
    ),
}


async def _first_organisation_rows(
    client: httpx.AsyncClient, settings: NotificationsSettings, database: Database
) -> tuple[dict[str, str], list[str]]:
    """A counsellor and an agency on file, messages delivered to their inbox; the ids."""
    for kind, recipient_id, body in (
        ("counsellor", COUNSELLOR, {"display_name": SECRETS[0], "email": SECRETS[1]}),
        ("agency", AGENCY, {"email": SECRETS[2]}),
    ):
        put = await client.put(f"/v1/recipients/{kind}/{recipient_id}", json=body, headers=OPS)
        assert put.status_code == 200, put.text
    messages = await record_event(database, _changed("accepted"))
    messages += await record_event(database, _sent())
    await DeliveryWorker(settings.model_copy(update={"delivery_max_attempts": 1})).run_once(
        database
    )
    inbox = (await client.get("/v1/inbox", headers=OWNER)).json()["items"]
    assert inbox, "the first counsellor has a message in their inbox"
    deliveries = (await client.get("/v1/deliveries", headers=OPS)).json()["items"]
    ids = {
        "message_id": inbox[0]["id"],
        "notification_id": str(messages[0].id),
        "delivery_id": deliveries[0]["id"],
        "kind": "counsellor",
        "recipient_id": COUNSELLOR,
    }
    owned = [str(m.id) for m in messages] + [d["id"] for d in deliveries]
    return ids, owned


async def test_every_route_has_an_access_policy(app: FastAPI) -> None:
    assert unmatched(app, POLICIES) == []


async def test_every_route_refuses_no_token_the_wrong_role_and_another_organisation(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: NotificationsSettings,
    database: Database,
) -> None:
    ids, owned = await _first_organisation_rows(client, settings, database)
    before = (await client.get("/v1/inbox", headers=OWNER)).json()
    others: Mapping[str, Mapping[str, str]] = {
        "counsellor": OTHER_COUNSELLOR,
        "agency": OTHER_AGENCY,
    }
    failures = []
    for name, other in others.items():
        found = await run_matrix(
            app,
            client,
            POLICIES,
            ids=ids,
            tokens=TOKENS,
            other=other,
            owned_ids=owned,
            secrets=SECRETS,
        )
        failures += [f"(another {name}) {failure}" for failure in found]
    assert failures == []
    # Nothing the others tried changed the first counsellor's messages or preferences.
    after = (await client.get("/v1/inbox", headers=OWNER)).json()
    assert after["unread_count"] == before["unread_count"] > 0
    mine = (await client.get("/v1/preferences", headers=OWNER)).json()
    assert (mine["id"], mine["opted_out_channels"]) == (COUNSELLOR, [])
    assert mine["email"] == SECRETS[1]


async def test_every_paged_list_answers_an_unreadable_cursor_with_a_422_on_cursor(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: NotificationsSettings,
    database: Database,
) -> None:
    """Issue 10, "Why": ``["x"]``, a number in place of the id… were 500s on every paged list."""
    assert len(paged_routes(app)) >= 3  # inbox, notifications, deliveries
    ids, _ = await _first_organisation_rows(client, settings, database)
    tokens = {**TOKENS, Role.COUNSELLOR: OWNER}
    assert await check_cursors(app, client, POLICIES, ids=ids, tokens=tokens) == []

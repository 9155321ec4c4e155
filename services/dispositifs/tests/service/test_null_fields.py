"""Issue 10, "Why": ``PATCH /v1/immersions/{id}`` with ``{"prescriber": null}`` was a 500 (a
``null`` written to a non-null column). A nested part of the content that may be left out but has
no empty state is a 422 in French on the field sent as ``null``, and the convention is unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from dispositifs.models import KnownReferral

from .conftest import COUNSELLOR, creating
from .test_immersions_api import full_content

KnownFactory = Callable[..., Awaitable[KnownReferral]]


@pytest.mark.parametrize("field", ["prescriber", "beneficiary", "host", "tutor"])
async def test_a_null_part_of_the_content_is_a_french_422_and_changes_nothing(
    client: httpx.AsyncClient, known_referral: KnownFactory, field: str
) -> None:
    referral = await known_referral()
    created = await client.post(
        "/v1/immersions",
        json=full_content(referral_id=str(referral.referral_id)),
        headers=creating(COUNSELLOR),
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    before = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()

    refused = await client.patch(f"/v1/immersions/{cid}", json={field: None}, headers=COUNSELLOR)

    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [(e["field"], e["location"]) for e in errors] == [(field, "body")]
    assert errors[0]["message"].startswith("Valeur null non acceptée")
    after = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert after == before

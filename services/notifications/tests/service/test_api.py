"""The HTTP API on the real store: the inbox (own messages, cursor pages, unread count, mark
read), preferences, and ops (deliveries by status and recipient, retry, a message as sent)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from devstack.mailbox import Mailbox
from notifications.jobs import DeliveryWorker
from notifications.settings import NotificationsSettings
from shared.auth.tokens import Role
from shared.contracts.referral import ReferralSent, ReferralStatusChanged
from shared.db.database import Database

from ..conftest import OPS, record_event, token

COUNSELLOR = "conseiller.dupont"
AGENCY = "agc-interim-nord-lille"
ME = token(Role.COUNSELLOR, COUNSELLOR, ft_structure="75101")
SOMEONE_ELSE = token(Role.COUNSELLOR, "conseiller.martin", ft_structure="75101")


def _changed(to_status: str, referral_id: uuid.UUID | None = None) -> ReferralStatusChanged:
    return ReferralStatusChanged(
        referral_id=referral_id or uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        counsellor_id=COUNSELLOR,
        from_status="sent",
        to_status=to_status,
        action="accept",
        occurred_at=datetime.now(UTC),
    )


def _sent() -> ReferralSent:
    return ReferralSent(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        counsellor_id=COUNSELLOR,
        sent_at=datetime.now(UTC),
    )


async def test_inbox_shows_only_my_delivered_messages_in_pages_with_unread_count(
    client: httpx.AsyncClient, settings: NotificationsSettings, database: Database
) -> None:
    for status in ("acknowledged", "accepted", "interview_scheduled", "placed", "declined"):
        await record_event(database, _changed(status))
    empty = (await client.get("/v1/inbox", headers=ME)).json()
    assert empty == {"items": [], "next_cursor": None, "unread_count": 0}  # not delivered yet

    await DeliveryWorker(settings).run_once(database)

    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/inbox", params=params, headers=ME)).json()
        assert page["unread_count"] == 5
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert len({item["id"] for item in seen}) == 5
    assert [item["created_at"] for item in seen] == sorted(
        (item["created_at"] for item in seen), reverse=True
    )
    assert seen[-1]["subject"].startswith("Orientation prise en compte")

    other = (await client.get("/v1/inbox", headers=SOMEONE_ELSE)).json()
    assert other["items"] == []
    assert other["unread_count"] == 0
    stolen = await client.post(f"/v1/inbox/{seen[0]['id']}/read", headers=SOMEONE_ELSE)
    assert stolen.status_code == 404

    read = await client.post(f"/v1/inbox/{seen[0]['id']}/read", headers=ME)
    assert read.status_code == 200
    assert read.json()["read_at"]
    after = (await client.get("/v1/inbox", params={"unread": "true"}, headers=ME)).json()
    assert after["unread_count"] == 4
    assert seen[0]["id"] not in {item["id"] for item in after["items"]}
    assert (await client.post("/v1/inbox/read-all", headers=ME)).json() == {"marked": 4}
    assert (await client.get("/v1/inbox", headers=ME)).json()["unread_count"] == 0
    assert (await client.get("/v1/inbox", headers=OPS)).status_code == 403


async def test_opting_out_skips_a_channel_or_a_kind_but_never_a_required_message(
    client: httpx.AsyncClient, settings: NotificationsSettings, database: Database
) -> None:
    registered = await client.put(
        f"/v1/recipients/agency/{AGENCY}",
        json={"email": "lille@interim-nord.example", "display_name": "Intérim Nord — Lille"},
        headers=OPS,
    )
    assert registered.status_code == 200
    agency = token(Role.AGENCY, "erp", agency_id=AGENCY, network_id="interim-nord")
    opted = await client.put(
        "/v1/preferences",
        json={"opted_out_channels": ["email"], "opted_out_kinds": []},
        headers=agency,
    )
    assert opted.json()["opted_out_channels"] == ["email"]
    me = await client.put(
        "/v1/preferences", json={"opted_out_kinds": ["referral.update"]}, headers=ME
    )
    assert me.json()["opted_out_kinds"] == ["referral.update"]

    [required] = await record_event(database, _sent())  # the agency's copy: required
    [update] = await record_event(database, _changed("accepted"))  # counsellor: referral.update

    detail = (await client.get(f"/v1/notifications/{required.id}", headers=OPS)).json()
    assert {d["channel"]: d["status"] for d in detail["deliveries_as_sent"]} == {
        "email": "pending",
        "webhook": "skipped",  # no webhook on file
    }
    detail = (await client.get(f"/v1/notifications/{update.id}", headers=OPS)).json()
    statuses = {d["channel"]: (d["status"], d["last_error"]) for d in detail["deliveries_as_sent"]}
    assert statuses["inbox"][0] == "skipped"
    assert statuses["inbox"][1].startswith("opted_out")
    assert statuses["email"][0] == "skipped"


async def test_ops_list_deliveries_by_status_and_recipient_retry_a_failed_one_and_see_it_as_sent(
    client: httpx.AsyncClient,
    settings: NotificationsSettings,
    database: Database,
    mailbox: Mailbox,
) -> None:
    await client.put(
        f"/v1/recipients/agency/{AGENCY}",
        json={"email": "lille@interim-nord.example"},
        headers=OPS,
    )
    [message] = await record_event(database, _sent())
    worker = DeliveryWorker(
        settings.model_copy(update={"delivery_max_attempts": 1})
    )  # SMTP down: one try, then failed
    await worker.run_once(database)

    failed = (
        await client.get(
            "/v1/deliveries",
            params={"status": "failed", "recipient_kind": "agency", "recipient_id": AGENCY},
            headers=OPS,
        )
    ).json()["items"]
    assert [(d["channel"], d["notification_id"]) for d in failed] == [("email", str(message.id))]
    skipped = (
        await client.get("/v1/deliveries", params={"status": "skipped"}, headers=OPS)
    ).json()["items"]
    assert [d["channel"] for d in skipped] == ["webhook"]
    none = await client.get(
        "/v1/deliveries", params={"status": "failed", "recipient_id": "agc-other"}, headers=OPS
    )
    assert none.json()["items"] == []

    not_retryable = await client.post(f"/v1/deliveries/{skipped[0]['id']}/retry", headers=OPS)
    assert not_retryable.status_code == 409  # still no webhook on file
    mailbox.start()
    retried = await client.post(f"/v1/deliveries/{failed[0]['id']}/retry", headers=OPS)
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    await worker.run_once(database)

    sent = (await client.get(f"/v1/deliveries/{failed[0]['id']}", headers=OPS)).json()
    assert sent["status"] == "delivered"
    assert sent["address"] == "lille@interim-nord.example"
    assert sent["subject"] == mailbox.messages[0].subject
    assert sent["body"] in mailbox.messages[0].text
    assert [a["outcome"] for a in sent["attempt_log"]] == ["failed", "delivered"]
    assert len(mailbox.messages) == 1
    assert (await client.get("/v1/deliveries", headers=ME)).status_code == 403


async def test_registering_a_webhook_generates_a_secret_shown_once(
    client: httpx.AsyncClient,
) -> None:
    created = await client.put(
        f"/v1/recipients/agency/{AGENCY}",
        json={"webhook_url": "https://erp.interim-nord.example/coop"},
        headers=OPS,
    )
    body = created.json()
    assert body["webhook_secret_set"] is True
    assert len(body["webhook_secret"]) >= 32
    again = await client.put(
        f"/v1/recipients/agency/{AGENCY}",
        json={"webhook_url": "https://erp.interim-nord.example/coop2"},
        headers=OPS,
    )
    assert again.json()["webhook_secret"] is None  # kept, not shown again
    shown = (await client.get(f"/v1/recipients/agency/{AGENCY}", headers=OPS)).json()
    assert "webhook_secret" not in shown
    assert shown["webhook_secret_set"] is True
    refused = await client.put(
        f"/v1/recipients/job_seeker/{uuid.uuid4()}", json={"email": "a@b.fr"}, headers=OPS
    )
    assert refused.status_code == 422

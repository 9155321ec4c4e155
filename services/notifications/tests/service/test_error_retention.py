"""Delivery error texts (issue 11) over a real SMTP server and the real store: a refusal that
echoes the recipient's address is screened before it is stored, logged or published, and the
texts are emptied after 90 days by the service's retention job (a moved clock)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select, update

from localkafka import free_port
from notifications.jobs import DeliveryWorker
from notifications.models import PLATFORM, Delivery, DeliveryAttempt
from notifications.settings import NotificationsSettings
from notifications.use_cases import recipients
from notifications.use_cases.retention import ERROR_TEXT_RETENTION
from shared.contracts.referral import ReferralSent
from shared.db.database import Database

from ..conftest import record_event

AGENCY = "agc-interim-nord-lille"
ADDRESS = "jean.dupont@interim-nord.example"


def _sent_to_the_agency() -> ReferralSent:
    return ReferralSent(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id="conseiller.dupont",
        structure_code="75101",
        sent_at=datetime.now(UTC),
    )


class _Refusing:
    """A real SMTP server's answer to RCPT: the address refused, echoed as servers do."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: user unknown"


async def test_a_refusal_echoing_the_address_is_screened_then_purged_after_90_days(
    settings: NotificationsSettings, database: Database, app: FastAPI
) -> None:
    port = free_port()
    smtp = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        async with database.transaction() as session:
            await recipients.upsert(session, "agency", AGENCY, display_name="Lille", email=ADDRESS)
        await record_event(
            database,
            _sent_to_the_agency(),
        )
        worker = DeliveryWorker(settings.model_copy(update={"smtp_port": port}))
        await worker.run_once(database)
    finally:
        smtp.stop()

    async with database.sessionmaker() as session:
        delivery = (
            await session.scalars(select(Delivery).where(Delivery.channel == "email"))
        ).one()
        attempts = list(await session.scalars(select(DeliveryAttempt)))
        published = list(
            await session.scalars(
                select(PLATFORM.outbox.c.data).where(
                    PLATFORM.outbox.c.event_type == "coop.notification.failed.v1"
                )
            )
        )
    assert delivery.status == "failed"
    assert delivery.last_error is not None
    assert "550" in delivery.last_error  # what ops need stays
    assert attempts
    assert published
    texts = [
        delivery.last_error,
        *(a.error or "" for a in attempts),
        *(a.response or "" for a in attempts),
        *(str(p) for p in published),
    ]
    for text in texts:
        assert "jean.dupont" not in text, text
        assert "interim-nord.example" not in text, text
    assert delivery.address == ADDRESS  # the address itself is the delivery's, not the error's

    runtime = app.state.runtime
    (job,) = [j for j in runtime.jobs if j.name == "notifications-retention"]
    await job.run(runtime)  # nothing is 90 days old yet
    async with database.sessionmaker() as session:
        assert (await session.get(Delivery, delivery.id)).last_error is not None  # type: ignore[union-attr]
    old = datetime.now(UTC) - ERROR_TEXT_RETENTION - timedelta(days=1)
    async with database.transaction() as session:
        await session.execute(update(Delivery).values(updated_at=old))
        await session.execute(update(DeliveryAttempt).values(finished_at=old))
    await job.run(runtime)
    async with database.sessionmaker() as session:
        purged = await session.get(Delivery, delivery.id)
        assert purged is not None
        assert (purged.last_error, purged.status) == (None, "failed")
        kept = list(await session.scalars(select(DeliveryAttempt)))
    assert len(kept) == len(attempts)  # the attempts stay, without their texts
    assert {(a.error, a.response) for a in kept} == {(None, None)}


class _CrashingSender:
    """A sender with a bug whose exception quotes the address it was given."""

    async def send(self, outgoing: Any) -> str:
        raise RuntimeError(f"cannot build the envelope for {outgoing.address}")


async def test_a_crashing_sender_is_retried_and_neither_the_log_nor_the_store_keeps_the_address(
    settings: NotificationsSettings, database: Database
) -> None:
    import logging

    from shared.observability.logging import configure_logging

    async with database.transaction() as session:
        await recipients.upsert(session, "agency", AGENCY, display_name="Lille", email=ADDRESS)
    await record_event(
        database,
        _sent_to_the_agency(),
    )
    worker = DeliveryWorker(settings, senders={"email": _CrashingSender()})
    # What the service's log handler receives (its loggers are cached once configured, so the
    # records are taken at the root logger, where the service's own handler takes them).
    configure_logging("notifications", level="INFO")
    logs: list[Any] = []
    collector = logging.Handler()
    collector.emit = lambda record: logs.append(record.msg)  # type: ignore[method-assign]
    logging.getLogger().addHandler(collector)
    try:
        await worker.run_once(database)
    finally:
        logging.getLogger().removeHandler(collector)

    crashed = [e for e in logs if isinstance(e, dict) and e.get("event") == "sender crashed"]
    assert crashed, logs
    assert "RuntimeError" in crashed[0]["error"]
    assert "test_error_retention.py" in crashed[0]["stack"]  # the frames are kept
    assert ADDRESS not in str(logs)
    async with database.sessionmaker() as session:
        delivery = (
            await session.scalars(select(Delivery).where(Delivery.channel == "email"))
        ).one()
        attempts = list(await session.scalars(select(DeliveryAttempt)))
    assert delivery.status != "delivered"
    assert delivery.last_error is not None
    assert ADDRESS not in delivery.last_error
    assert "[retiré]" in delivery.last_error
    assert all(ADDRESS not in (a.error or "") for a in attempts)

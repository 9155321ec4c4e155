"""Deliveries over real protocols: a real SMTP server (aiosmtpd) and a real HTTP receiver on
loopback, the real worker and store. Outcomes are checked in the receiver and in the bookkeeping."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from devstack.mailbox import Mailbox
from notifications.adapters.webhook_signature import verify
from notifications.jobs import DeliveryWorker
from notifications.models import PLATFORM, Delivery, DeliveryAttempt
from notifications.settings import NotificationsSettings
from notifications.use_cases import recipients
from shared.contracts.referral import ReferralSent
from shared.db.database import Database
from shared.testing_kafka import eventually

from ..conftest import WebhookReceiver, record_event

AGENCY = "agc-interim-nord-lille"
DOCS = Path(__file__).resolve().parents[4] / "docs" / "notifications.md"


def _sent(referral_id: uuid.UUID | None = None) -> ReferralSent:
    return ReferralSent(
        referral_id=referral_id or uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id="conseiller.dupont",
        structure_code="75101",
        sent_at=datetime.now(UTC),
    )


async def _register(
    database: Database, *, email: str | None = None, webhook: str | None = None
) -> None:
    async with database.transaction() as session:
        await recipients.upsert(
            session,
            "agency",
            AGENCY,
            display_name="Intérim Nord — Lille",
            email=email,
            webhook_url=webhook,
            webhook_secret="s3cret-" + "x" * 40 if webhook else None,
        )


async def _delivery(database: Database, channel: str) -> Delivery:
    async with database.sessionmaker() as session:
        return (await session.scalars(select(Delivery).where(Delivery.channel == channel))).one()


async def _attempts(database: Database) -> list[DeliveryAttempt]:
    async with database.sessionmaker() as session:
        return list(
            (await session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))).all()
        )


async def _outcome_events(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(PLATFORM.outbox.c.event_type))).all())


async def _work_until(
    worker: DeliveryWorker, database: Database, channel: str, status: str, timeout: float = 20
) -> Delivery:
    async def probe() -> Delivery | None:
        await worker.run_once(database)
        delivery = await _delivery(database, channel)
        return delivery if delivery.status == status else None

    return await eventually(probe, timeout=timeout, interval=0.05)  # type: ignore[no-any-return]


async def test_smtp_down_then_up_is_retried_and_delivered_once(
    settings: NotificationsSettings, database: Database, mailbox: Mailbox
) -> None:
    await _register(database, email="lille@interim-nord.example")
    referral_id = uuid.uuid4()
    await record_event(database, _sent(referral_id))
    worker = DeliveryWorker(settings)

    before_attempt = datetime.now(UTC)
    await worker.run_once(database)  # nobody listens on the port yet
    down = await _delivery(database, "email")
    assert (down.status, down.attempts) == ("pending", 1)
    assert down.last_error
    assert "Connection" in down.last_error
    assert down.next_attempt_at is not None
    # Scheduled after the failed attempt (compared with a time taken before it, not with "now":
    # the test's retry delay is a few milliseconds and a busy machine can pass it).
    assert down.next_attempt_at > before_attempt

    mailbox.start()
    delivered = await _work_until(worker, database, "email", "delivered")
    await worker.run_once(database)  # nothing left to do: no second mail

    mails = mailbox.messages
    assert len(mails) == 1
    mail = mails[0]
    assert mail.rcpt_tos == ("lille@interim-nord.example",)
    assert mail.subject == "Nouvelle orientation France Travail — Soudeur / Soudeuse (ROME H2913)"
    assert str(referral_id) in mail.text
    assert mail.text.startswith("Bonjour Intérim Nord — Lille,")
    assert mail.header("Message-ID") == f"<{delivered.id}@{settings.mail_message_id_domain}>"
    assert mail.header("X-Coop-Referral-Id") == str(referral_id)
    assert delivered.attempts >= 2
    assert delivered.last_error is None
    attempts = [a.outcome for a in await _attempts(database)]
    assert attempts[-1] == "delivered"
    assert set(attempts[:-1]) == {"retry"}
    assert await _outcome_events(database) == ["coop.notification.delivered.v1"]


async def test_webhook_500_then_200_is_delivered_once(
    settings: NotificationsSettings, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    await _register(database, webhook=webhook_receiver.url)
    webhook_receiver.statuses = [500]
    await record_event(database, _sent())
    worker = DeliveryWorker(settings)

    delivered = await _work_until(worker, database, "webhook", "delivered")
    await worker.run_once(database)

    assert len(webhook_receiver.requests) == 2
    first, second = webhook_receiver.requests
    assert first.body == second.body  # the same stored body, re-signed
    assert first.headers["X-Coop-Delivery"] == second.headers["X-Coop-Delivery"]
    assert delivered.attempts == 2
    assert [a.outcome for a in await _attempts(database)] == ["retry", "delivered"]
    assert (await _attempts(database))[0].error.startswith("HTTP 500")  # type: ignore[union-attr]
    assert await _outcome_events(database) == ["coop.notification.delivered.v1"]
    payload = second.json()
    assert payload["event"]["type"] == "coop.referral.sent.v1"
    assert payload["recipient"] == {"kind": "agency", "id": AGENCY}
    assert payload["data"]["rome_code"] == "H2913"


async def test_webhook_400_fails_at_once_without_retry(
    settings: NotificationsSettings, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    await _register(database, webhook=webhook_receiver.url)
    webhook_receiver.statuses = [400]
    await record_event(database, _sent())
    worker = DeliveryWorker(settings)

    failed = await _work_until(worker, database, "webhook", "failed")
    for _ in range(3):
        await worker.run_once(database)

    assert len(webhook_receiver.requests) == 1
    assert failed.attempts == 1
    assert failed.last_error
    assert failed.last_error.startswith("HTTP 400")
    assert failed.next_attempt_at is None
    assert await _outcome_events(database) == ["coop.notification.failed.v1"]


async def test_webhook_timeouts_are_retried_until_the_last_attempt_then_failed(
    settings: NotificationsSettings, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    await _register(database, webhook=webhook_receiver.url)
    webhook_receiver.delay_seconds = settings.webhook_timeout_seconds + 0.5
    await record_event(database, _sent())
    worker = DeliveryWorker(settings)

    failed = await _work_until(worker, database, "webhook", "failed", timeout=60)

    assert failed.attempts == settings.delivery_max_attempts
    outcomes = [a.outcome for a in await _attempts(database)]
    assert outcomes == ["retry"] * (settings.delivery_max_attempts - 1) + ["failed"]
    assert failed.last_error
    assert "timeout" in failed.last_error
    assert await _outcome_events(database) == ["coop.notification.failed.v1"]


async def test_webhook_signature_verifies_with_the_documented_recipe(
    settings: NotificationsSettings, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    secret = "s3cret-" + "x" * 40
    await _register(database, webhook=webhook_receiver.url)
    await record_event(database, _sent())
    await _work_until(DeliveryWorker(settings), database, "webhook", "delivered")
    request = webhook_receiver.requests[0]
    timestamp = request.headers["X-Coop-Timestamp"]
    signature = request.headers["X-Coop-Signature"]

    # The receiver's code, exactly as docs/notifications.md shows it.
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    recipe = next(block for block in blocks if "def verify_coop_signature" in block)
    namespace: dict[str, object] = {}
    exec(recipe, namespace)  # noqa: S102 - our own documentation's snippet
    verify_documented = namespace["verify_coop_signature"]

    assert verify_documented(secret, timestamp, signature, request.body)  # type: ignore[operator]
    assert not verify_documented("another-secret", timestamp, signature, request.body)  # type: ignore[operator]
    assert not verify_documented(secret, timestamp, signature, request.body + b" ")  # type: ignore[operator]
    stale = str(int(timestamp) - 3600)
    assert not verify_documented(secret, stale, signature, request.body)  # type: ignore[operator]
    assert verify(secret, timestamp, signature, request.body)


async def test_a_channel_without_address_is_skipped_and_visible(
    settings: NotificationsSettings, database: Database
) -> None:
    [message] = await record_event(database, _sent())  # agency not in the directory
    worker = DeliveryWorker(settings)
    assert await worker.run_once(database) == 0
    async with database.sessionmaker() as session:
        deliveries = (
            await session.scalars(select(Delivery).where(Delivery.notification_id == message.id))
        ).all()
    assert {(d.channel, d.status) for d in deliveries} == {
        ("email", "skipped"),
        ("webhook", "skipped"),
    }
    assert all(d.last_error and d.last_error.startswith("no_address") for d in deliveries)


async def test_an_archive_notice_is_mailed_to_the_owning_organisation_only(
    settings: NotificationsSettings, database: Database, mailbox: Mailbox
) -> None:
    """Issue 11: before a record inactive for two years is anonymised, the organisation that owns
    it is told (its mailbox in the directory), with the date; another organisation is not."""
    from shared.contracts.erasure import JobSeekerArchiveNoticed

    async with database.transaction() as session:
        await recipients.upsert(
            session,
            "organisation",
            "75101",
            display_name="FT Paris 1er",
            email="ft75101@ft.example",
        )
        await recipients.upsert(
            session, "organisation", "59350", display_name="FT Lille", email="ft59350@ft.example"
        )
    job_seeker_id = uuid.uuid4()
    notice = JobSeekerArchiveNoticed(
        job_seeker_id=job_seeker_id,
        structure_code="75101",
        inactive_since=datetime(2024, 11, 2, 9, 0, tzinfo=UTC),
        archive_on=datetime(2026, 12, 31, 9, 0, tzinfo=UTC),
    )
    recorded = await record_event(database, notice)
    assert [(n.recipient_kind, n.recipient_id) for n in recorded] == [("organisation", "75101")]

    mailbox.start()
    worker = DeliveryWorker(settings)
    await _work_until(worker, database, "email", "delivered")
    [mail] = mailbox.messages
    assert mail.rcpt_tos == ("ft75101@ft.example",)
    assert mail.subject == "Fiche inactive : archivage le jeudi 31 décembre 2026"
    assert str(job_seeker_id) in mail.text
    assert "samedi 2 novembre 2024" in mail.text
    assert mail.text.startswith("Bonjour FT Paris 1er,")


async def test_a_candidate_hired_elsewhere_closes_the_referral_for_its_agency_and_counsellor(
    settings: NotificationsSettings, database: Database, mailbox: Mailbox
) -> None:
    """Issue 12: when another referral places the job seeker, this referral's agency is mailed
    that the candidate is already hired (required: it must stop), without saying by whom, and
    the counsellor sees it in the inbox; the followed referral is closed."""
    from notifications.models import KnownReferral
    from shared.contracts.referral import ReferralObsoleted, ReferralStatus

    await _register(database, email="lille@interim-nord.example")
    referral_id = uuid.uuid4()
    await record_event(database, _sent(referral_id))
    placed_elsewhere = uuid.uuid4()
    recorded = await record_event(
        database,
        ReferralObsoleted(
            referral_id=referral_id,
            agency_id=AGENCY,
            network_id="interim-nord",
            counsellor_id="conseiller.dupont",
            structure_code="75101",
            from_status=ReferralStatus.ACCEPTED,
            job_seeker_id=uuid.uuid4(),
            placed_referral_id=placed_elsewhere,
            obsoleted_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        ),
    )
    assert sorted((n.recipient_kind, n.recipient_id) for n in recorded) == [
        ("agency", AGENCY),
        ("counsellor", "conseiller.dupont"),
    ]
    async with database.sessionmaker() as session:
        followed = await session.get(KnownReferral, referral_id)
        assert followed is not None
        assert followed.status == "closed"

    mailbox.start()
    worker = DeliveryWorker(settings)

    async def both_mailed() -> bool | None:
        await worker.run_once(database)
        return True if len(mailbox.messages) == 2 else None  # the referral, then its closing

    await eventually(both_mailed, timeout=20, interval=0.05)
    [mail] = [m for m in mailbox.messages if "embauché" in m.subject]
    assert mail.rcpt_tos == ("lille@interim-nord.example",)
    assert mail.subject.startswith("Candidat déjà embauché : orientation close")
    assert str(referral_id) in mail.text
    assert str(placed_elsewhere) not in mail.text  # another network's referral: not theirs

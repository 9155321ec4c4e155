"""What one handled event costs the store, counted (issue 14): the consumer applies a fetched batch
in one transaction, and each ``referral.sent`` in it takes a fixed number of SQL statements —
counted here with a ``before_cursor_execute`` listener on the real store, so the count cannot
creep back. And what the transaction keeps of the directory between the events of a batch is
kept current: a consent, a withdrawal or an erasure earlier in the same batch is seen by the
events after it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.access import SYSTEM
from notifications.consumers import referral_events
from notifications.models import Delivery, KnownReferral, Notification
from notifications.use_cases import recipients
from shared.contracts import EventData
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.job_seeker_contact import JobSeekerContactConsented, JobSeekerContactWithdrawn
from shared.contracts.referral import ReferralSent
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.messaging.consumer import Delivery as RecordDelivery
from shared.messaging.consumer import EventContext
from shared.testing import executed_statements, without_transaction_control

AGENCY = "agc-interim-nord-lille"

#: The statements of one ``referral.sent``: the followed referral (``INSERT … ON CONFLICT DO
#: NOTHING``), the directory entries not read yet in the batch (one query), the messages
#: (``INSERT … ON CONFLICT DO NOTHING RETURNING``), their deliveries (one insert).
STATEMENTS_PER_REFERRAL_SENT = 4


def _sent(job_seeker_id: uuid.UUID | None = None, referral_id: uuid.UUID | None = None) -> Any:
    return ReferralSent(
        referral_id=referral_id or uuid.uuid4(),
        job_seeker_id=job_seeker_id or uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id="conseiller.dupont",
        structure_code="75101",
        sent_at=datetime.now(UTC),
    )


def _event(data: EventData, event_id: str | None = None) -> CloudEvent:
    payload = data.model_dump(mode="json")
    if event_id is None:
        return CloudEvent(type=data.event_type, source="/test", data=payload)
    return CloudEvent(type=data.event_type, source="/test", data=payload, id=event_id)


async def _handle(session: AsyncSession, data: EventData, event_id: str | None = None) -> None:
    """What the batch consumer does with one record of its batch (its claim aside)."""
    handler = referral_events.get(data.event_type)
    assert handler is not None
    await handler(EventContext(_event(data, event_id), data, session, RecordDelivery("t", 0, 0)))


async def _register_agency(database: Database) -> None:
    async with database.transaction() as session:
        await recipients.upsert(
            session,
            "agency",
            AGENCY,
            display_name="Intérim Nord — Lille",
            email="lille@interim-nord.example",
            webhook_url="https://erp.interim-nord.example/hooks/coop",
            webhook_secret="s" * 40,
        )


async def _count(database: Database, model: Any) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_batch_of_referral_sent_takes_four_statements_per_event(
    database: Database,
) -> None:
    await _register_agency(database)
    consented = uuid.uuid4()
    async with database.transaction() as session:
        await recipients.remember_contact(
            recipients.RememberContact(
                JobSeekerContactConsented(
                    job_seeker_id=consented,
                    first_name="Inès",
                    last_name="Lefebvre",
                    email="ines@example.org",
                    consented_at=datetime.now(UTC),
                )
            ),
            SYSTEM,
            session,
        )
    batch = [_sent() for _ in range(9)] + [_sent(consented)]
    with executed_statements(database.engine) as statements:
        async with database.transaction() as session:
            for data in batch:
                await _handle(session, data)
    handled = without_transaction_control(statements)
    assert len(handled) == STATEMENTS_PER_REFERRAL_SENT * len(batch), handled
    # The agency's entry was read once for the whole batch.
    directory_reads = [s for s in handled if "FROM recipients" in s]
    assert len(directory_reads) == len(batch)
    # Each event: its agency's message (email, webhook); the consented job seeker's too.
    assert await _count(database, Notification) == len(batch) + 1
    assert await _count(database, Delivery) == 2 * len(batch) + 1
    assert await _count(database, KnownReferral) == len(batch)


async def test_a_redelivered_referral_sent_tells_nobody_twice(
    database: Database,
) -> None:
    await _register_agency(database)
    data = _sent()
    event_id = str(uuid.uuid4())
    async with database.transaction() as session:
        await _handle(session, data, event_id)
    with executed_statements(database.engine) as statements:
        async with database.transaction() as session:
            await _handle(session, data, event_id)
    # The followed referral (known: nothing inserted), read back for the wording, the
    # directory, the messages (none inserted: already told) — and no deliveries.
    handled = without_transaction_control(statements)
    assert len(handled) == 4, handled
    assert not any("INTO deliveries" in s for s in handled)
    assert await _count(database, Notification) == 1
    assert await _count(database, Delivery) == 2


async def test_a_consent_earlier_in_the_batch_is_seen_by_the_events_after_it(
    database: Database,
) -> None:
    job_seeker_id = uuid.uuid4()
    async with database.transaction() as session:
        await _handle(session, _sent(job_seeker_id))  # not consented yet: nobody to tell
        await _handle(
            session,
            JobSeekerContactConsented(
                job_seeker_id=job_seeker_id,
                first_name="Inès",
                last_name="Lefebvre",
                email="ines@example.org",
                consented_at=datetime.now(UTC),
            ),
        )
        await _handle(session, _sent(job_seeker_id))  # told
        await _handle(
            session,
            JobSeekerContactWithdrawn(job_seeker_id=job_seeker_id, withdrawn_at=datetime.now(UTC)),
        )
        await _handle(session, _sent(job_seeker_id))  # withdrawn: nobody to tell
        await _handle(
            session,
            JobSeekerContactConsented(
                job_seeker_id=job_seeker_id,
                first_name="Inès",
                last_name="Lefebvre",
                email="ines@example.org",
                consented_at=datetime.now(UTC),
            ),
        )
        erased_referral = uuid.uuid4()
        await _handle(session, _sent(job_seeker_id, erased_referral))  # told
        await _handle(
            session,
            JobSeekerErasureRequested(
                erasure_id=uuid.uuid4(),
                job_seeker_id=job_seeker_id,
                referral_ids=[erased_referral],
                requested_at=datetime.now(UTC),
            ),
        )
        await _handle(session, _sent(job_seeker_id))  # erased: nobody to tell
    async with database.reading() as session:
        told = (
            await session.scalars(
                select(Notification).where(
                    Notification.recipient_kind == "job_seeker",
                    Notification.recipient_id == str(job_seeker_id),
                )
            )
        ).all()
    assert len(told) == 2
    # Each of the five referrals told its agency (not in the directory: its deliveries skipped).
    assert await _count(database, Notification) == 5 + 2

"""A consumer batch applied together (issue 14): the notifications handler's ``apply_batch`` gets
the records of one event type of a batch at once and follows and records them in a few statements
for the whole run. What it leaves must be what handling the same events one by one, in order,
leaves: checked row by row against a second store fed the same events one at a time. And what a
batch costs the store is counted, with a ``before_cursor_execute`` listener, whatever its
length."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.access import SYSTEM
from notifications.consumers import EventHandler, referral_events
from notifications.models import Delivery, KnownReferral, Notification
from notifications.use_cases import recipients
from shared.contracts import EventData
from shared.contracts.job_seeker_contact import JobSeekerContactConsented
from shared.contracts.referral import (
    ReferralSent,
    ReferralStatus,
    ReferralStatusChanged,
    ReferralWithdrawn,
)
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.messaging.consumer import BatchHandler, EventContext
from shared.messaging.consumer import Delivery as RecordDelivery
from shared.testing import executed_statements, without_transaction_control

from ..conftest import MIGRATIONS

AGENCY = "agc-interim-nord-lille"
COUNSELLOR = "conseiller.dupont"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

#: The statements of a batch of ``referral.sent`` applied together, whatever its length: the
#: followed referrals (``INSERT … ON CONFLICT DO NOTHING RETURNING``), the directory entries not
#: read yet (one query), the messages (``INSERT … ON CONFLICT DO NOTHING RETURNING``), their
#: deliveries (one insert). (The consumer adds its two claim statements.)
STATEMENTS_PER_BATCH_OF_SENT = 4
#: … of status changes of referrals followed (none read yet in the transaction): the followed
#: referrals (one query), the directory (one query), the messages, the deliveries, the followed
#: referrals' new status (one ``UPDATE`` executed for all rows).
STATEMENTS_PER_BATCH_OF_STATUS_CHANGES = 5


def _sent(
    referral_id: uuid.UUID, job_seeker_id: uuid.UUID | None = None, **fields: Any
) -> ReferralSent:
    return ReferralSent(
        referral_id=referral_id,
        job_seeker_id=job_seeker_id or uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id=COUNSELLOR,
        structure_code="75101",
        sent_at=T0,
        **fields,
    )


#: The agency's action that leads to each status (the job seeker's routing reads it).
_ACTION = {
    ReferralStatus.ACCEPTED: "accept",
    ReferralStatus.INTERVIEW_SCHEDULED: "schedule_interview",
    ReferralStatus.DECLINED: "decline",
    ReferralStatus.PLACED: "start_placement",
}


def _changed(
    referral_id: uuid.UUID, to_status: ReferralStatus, **fields: Any
) -> ReferralStatusChanged:
    return ReferralStatusChanged(
        referral_id=referral_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        counsellor_id=COUNSELLOR,
        from_status=ReferralStatus.ACKNOWLEDGED,
        to_status=to_status,
        action=_ACTION[to_status],
        occurred_at=T0,
        **fields,
    )


def _withdrawn(referral_id: uuid.UUID) -> ReferralWithdrawn:
    return ReferralWithdrawn(
        referral_id=referral_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        counsellor_id=COUNSELLOR,
        reason="Le candidat a trouvé un emploi.",
        withdrawn_at=T0,
    )


def _event(data: EventData) -> CloudEvent:
    return CloudEvent(
        type=data.event_type, source="/test", data=data.model_dump(mode="json"), time=T0
    )


def _context(
    session: AsyncSession, data: EventData, offset: int = 0, event: CloudEvent | None = None
) -> EventContext[Any]:
    return EventContext(event or _event(data), data, session, RecordDelivery("t", 0, offset))


def _handler() -> EventHandler:
    handler = referral_events.get(ReferralSent.event_type)
    assert isinstance(handler, EventHandler)
    assert isinstance(handler, BatchHandler)
    return handler


async def _set_up(
    database: Database, consented: uuid.UUID, known: Sequence[tuple[CloudEvent, EventData]]
) -> None:
    """The agency and the counsellor in the directory, a job seeker who consented, and events
    handled before the batch (their own transactions)."""
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
        await recipients.upsert(
            session, "counsellor", COUNSELLOR, email="dupont@francetravail.example"
        )
        await recipients.remember_contact(
            recipients.RememberContact(
                JobSeekerContactConsented(
                    job_seeker_id=consented,
                    first_name="Inès",
                    last_name="Lefebvre",
                    email="ines@example.org",
                    consented_at=T0,
                )
            ),
            SYSTEM,
            session,
        )
    for index, (cloud_event, data) in enumerate(known):
        async with database.transaction() as session:
            await _handler()(_context(session, data, index, cloud_event))


async def _rows(database: Database) -> dict[str, Any]:
    """Everything the handler writes, without what is drawn afresh each time (ids, clocks)."""
    async with database.reading() as session:
        messages = (await session.scalars(select(Notification))).all()
        by_id = {m.id: m for m in messages}
        deliveries = (await session.scalars(select(Delivery))).all()
        referrals = (await session.scalars(select(KnownReferral))).all()

    def message_key(m: Notification) -> tuple[Any, ...]:
        return (m.event_id, m.recipient_kind, m.recipient_id)

    def body(d: Delivery) -> Any:
        if d.channel != "webhook":
            return d.body
        document = json.loads(d.body)
        assert document.pop("delivery_id") == str(d.id)
        assert document.pop("message_id") == str(d.notification_id)
        return document

    return {
        "messages": sorted(
            (
                *message_key(m),
                m.event_type,
                m.kind,
                m.required,
                m.subject,
                m.body,
                m.referral_id,
                m.read_at,
            )
            for m in messages
        ),
        "deliveries": sorted(
            (
                (
                    *message_key(by_id[d.notification_id]),
                    d.channel,
                    d.address,
                    d.subject,
                    json.dumps(body(d), sort_keys=True),
                    d.status,
                    d.attempts,
                    d.next_attempt_at is not None,
                    d.last_error,
                    d.delivered_at,
                )
                for d in deliveries
            ),
            key=repr,
        ),
        "referrals": sorted(
            (
                r.referral_id,
                r.agency_id,
                r.network_id,
                r.rome_code,
                r.sent_at,
                r.counsellor_id,
                r.job_seeker_id,
                r.agency_name,
                r.agency_town,
                r.status,
                r.reminded_at,
            )
            for r in referrals
        ),
    }


async def test_a_batch_applied_together_leaves_the_rows_of_its_events_one_by_one(
    database: Database, new_migrated_database: Callable[[str, Path], Awaitable[str]]
) -> None:
    one_by_one = Database(await new_migrated_database("notifications-one-by-one", MIGRATIONS))
    consented = uuid.uuid4()
    r0, closed, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    r1, r2, r3, r4 = (uuid.uuid4() for _ in range(4))
    # Known before the batch: a referral followed, another followed and closed already.
    known = [(_event(d), d) for d in (_sent(r0), _sent(closed), _withdrawn(closed))]
    # The batch, as runs of one event type (what the consumer gives ``apply_batch``).
    runs: list[list[EventData]] = [
        [
            _sent(r1, agency_name="Intérim Nord", agency_town="Lille"),
            _sent(r2, consented),  # the consented job seeker is told too
            _sent(r3),
            _sent(r1, agency_name="Autre nom"),  # the same referral again: the first one wins
            _sent(r0),  # known already: nothing new learnt, the agency told of this event
            _sent(r4, offer_id=uuid.uuid4()),
        ],
        [
            _changed(r1, ReferralStatus.ACCEPTED),
            _changed(
                r2,
                ReferralStatus.INTERVIEW_SCHEDULED,
                details={"interview_at": "2026-12-03T14:30:00+01:00", "location": "Lille"},
            ),
            _changed(r0, ReferralStatus.DECLINED),  # final: closed
            _changed(closed, ReferralStatus.ACCEPTED),  # late answer: stays closed
            _changed(unknown, ReferralStatus.ACCEPTED),  # not followed: the counsellor told
            _changed(r1, ReferralStatus.PLACED),
        ],
        [_withdrawn(r3), _withdrawn(r4), _withdrawn(unknown)],
        [_changed(r3, ReferralStatus.ACCEPTED), _changed(r4, ReferralStatus.DECLINED)],
    ]
    try:
        for store in (database, one_by_one):
            await _set_up(store, consented, known)
        events = [data for run in runs for data in run]
        contexts = [_context(None, data, offset) for offset, data in enumerate(events)]  # type: ignore[arg-type]
        handler = _handler()
        # One by one, each in its own transaction (the consumer's fallback).
        for context in contexts:
            async with one_by_one.transaction() as session:
                context.session = session
                await handler(context)
        # Together: the whole batch in one transaction, one call per run.
        async with database.transaction() as session:
            start = 0
            for run in runs:
                together = contexts[start : start + len(run)]
                start += len(run)
                for context in together:
                    context.session = session
                await handler.apply_batch(together, session)
        expected = await _rows(one_by_one)
        assert await _rows(database) == expected
    finally:
        await one_by_one.dispose()
    # What was checked is something: the runs told people, moved referrals, skipped nobody.
    statuses = {row[0]: row[9] for row in expected["referrals"]}
    assert statuses == {
        r0: "closed",
        closed: "closed",
        r1: "answered",
        r2: "answered",
        r3: "closed",
        r4: "closed",
    }
    assert ("job_seeker", str(consented)) in {(row[1], row[2]) for row in expected["messages"]}
    interview = [row for row in expected["messages"] if "Lille" in row[7] and "14 h 30" in row[7]]
    assert interview
    agency_names = {row[7] for row in expected["referrals"]}
    assert "Intérim Nord" in agency_names
    assert "Autre nom" not in agency_names


async def _count(database: Database, model: Any) -> int:
    async with database.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("size", [2, 10, 50])
async def test_a_batch_of_referral_sent_takes_four_statements_whatever_its_length(
    database: Database, size: int
) -> None:
    consented = uuid.uuid4()
    await _set_up(database, consented, [])
    batch = [_sent(uuid.uuid4()) for _ in range(size - 1)] + [_sent(uuid.uuid4(), consented)]
    with executed_statements(database.engine) as statements:
        async with database.transaction() as session:
            await _handler().apply_batch(
                [_context(session, d, i) for i, d in enumerate(batch)], session
            )
    handled = without_transaction_control(statements)
    assert len(handled) == STATEMENTS_PER_BATCH_OF_SENT, handled
    assert len([s for s in handled if "FROM recipients" in s]) == 1
    # Each event: its agency's message (email, webhook); the consented job seeker's too.
    assert await _count(database, Notification) == size + 1
    assert await _count(database, Delivery) == 2 * size + 1
    assert await _count(database, KnownReferral) == size


@pytest.mark.parametrize("size", [2, 10, 50])
async def test_a_batch_of_status_changes_takes_five_statements_whatever_its_length(
    database: Database, size: int
) -> None:
    referrals = [uuid.uuid4() for _ in range(size)]
    await _set_up(database, uuid.uuid4(), [(_event(d), d) for d in map(_sent, referrals)])
    batch = [_changed(r, ReferralStatus.ACCEPTED) for r in referrals]
    with executed_statements(database.engine) as statements:
        async with database.transaction() as session:
            await _handler().apply_batch(
                [_context(session, d, i) for i, d in enumerate(batch)], session
            )
    handled = without_transaction_control(statements)
    assert len(handled) == STATEMENTS_PER_BATCH_OF_STATUS_CHANGES, handled
    async with database.reading() as session:
        statuses = set((await session.scalars(select(KnownReferral.status))).all())
    assert statuses == {"answered"}
    # Each event: the counsellor's message (inbox, email), on top of the agencies' before.
    assert await _count(database, Notification) == 2 * size


async def test_a_redelivered_batch_tells_nobody_twice(database: Database) -> None:
    await _set_up(database, uuid.uuid4(), [])
    batch = [_sent(uuid.uuid4()) for _ in range(5)]
    events = [_event(d) for d in batch]
    for _ in range(2):
        async with database.transaction() as session:
            await _handler().apply_batch(
                [
                    EventContext(e, d, session, RecordDelivery("t", 0, i))
                    for i, (e, d) in enumerate(zip(events, batch, strict=True))
                ],
                session,
            )
    assert await _count(database, Notification) == 5
    assert await _count(database, Delivery) == 10
    assert await _count(database, KnownReferral) == 5

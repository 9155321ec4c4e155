"""The SQL statements the dispositifs consumer runs per consumed ``referral.sent`` (issue 14):
counted with a ``before_cursor_execute`` listener on the real store. Counts are deterministic;
nothing here measures a time.

A consumer batch applies its records in one transaction (``shared.messaging.consumer``); learning
its referrals is one ``INSERT … ON CONFLICT DO NOTHING`` for the whole batch, with no look-up."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from dispositifs.consumers import referral_event_handlers
from dispositifs.models import PLATFORM, KnownReferral
from dispositifs.settings import DispositifsSettings
from shared.contracts.referral import ReferralClosed, ReferralSent, ReferralStatusChanged
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.messaging.consumer import Delivery, EventContext
from shared.testing_kafka import eventually, publish, running_consumer


@contextmanager
def statements(database: Database) -> Iterator[list[tuple[str, int]]]:
    """Every statement the store executes meanwhile (its text, and how many parameter sets),
    the transaction's own ``BEGIN`` left out."""
    seen: list[tuple[str, int]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append((" ".join(statement.split()), len(parameters) if many else 1))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _sent(**overrides: Any) -> ReferralSent:
    values: dict[str, Any] = {
        "referral_id": uuid.uuid4(),
        "job_seeker_id": uuid.uuid4(),
        "agency_id": "agc-interim-nord-lille",
        "network_id": "interim-nord",
        "rome_code": "N1101",
        "departement": "59",
        "counsellor_id": "conseillere.leroy",
        "structure_code": "59350",
        "sent_at": datetime.now(UTC),
        "priority_publics": ["qpv", "rqth"],
    }
    values.update(overrides)
    return ReferralSent(**values)


async def _handle(settings: DispositifsSettings, session: Any, data: Any, offset: int) -> None:
    """One record of a batch, as the consumer applies it: the service's own handler."""
    handler = referral_event_handlers(settings).get(data.event_type)
    assert handler is not None
    event_ = CloudEvent(type=data.event_type, source="/test", data=data.model_dump(mode="json"))
    await handler(
        EventContext(
            event=event_,
            data=data,
            session=session,
            delivery=Delivery("referral.events", 0, offset),
        )
    )


def _status(sent: ReferralSent, to_status: str) -> ReferralStatusChanged:
    return ReferralStatusChanged(
        referral_id=sent.referral_id,
        agency_id=sent.agency_id,
        network_id=sent.network_id,
        counsellor_id=sent.counsellor_id,
        structure_code=sent.structure_code,
        from_status="sent",
        to_status=to_status,
        action="agency_answer",
        occurred_at=datetime.now(UTC),
    )


async def _known(database: Database) -> dict[uuid.UUID, KnownReferral]:
    async with database.reading() as session:
        return {k.referral_id: k for k in await session.scalars(select(KnownReferral))}


async def test_a_batch_of_referral_sent_is_learnt_in_one_statement(
    settings: DispositifsSettings, database: Database
) -> None:
    batch = [_sent() for _ in range(20)]
    with statements(database) as seen:
        async with database.transaction() as session:
            for offset, sent in enumerate(batch):
                await _handle(settings, session, sent, offset)
    # Was two per event (a look-up, then an INSERT): now one for the whole batch, no read.
    assert len(seen) == 1, seen
    [(sql, rows)] = seen
    assert sql.startswith("INSERT INTO known_referrals")
    assert "ON CONFLICT" in sql
    assert rows == 20
    known = await _known(database)
    assert set(known) == {sent.referral_id for sent in batch}
    first = known[batch[0].referral_id]
    assert (first.agency_id, first.network_id, first.rome_code, first.status) == (
        "agc-interim-nord-lille",
        "interim-nord",
        "N1101",
        "sent",
    )
    assert (first.job_seeker_id, first.departement, first.structure_code) == (
        batch[0].job_seeker_id,
        "59",
        "59350",
    )
    assert first.priority_publics == ["qpv"]  # never RQTH here
    assert first.sent_at == batch[0].sent_at
    assert first.recorded_at is not None


async def test_a_referral_known_already_or_twice_in_a_batch_is_left_as_it_is(
    settings: DispositifsSettings, database: Database
) -> None:
    old = _sent(rome_code="H2913")
    async with database.transaction() as session:
        await _handle(settings, session, old, 0)
    again = _sent(referral_id=old.referral_id, rome_code="A1101")  # the same referral, re-sent
    fresh = _sent()
    twice = _sent(referral_id=fresh.referral_id, rome_code="A1101")
    with statements(database) as seen:
        async with database.transaction() as session:
            for offset, sent in enumerate((again, fresh, twice)):
                await _handle(settings, session, sent, offset + 1)
    assert [rows for _, rows in seen] == [2]  # one statement: the old one is not even read
    known = await _known(database)
    assert len(known) == 2
    assert known[old.referral_id].rome_code == "H2913"
    assert known[fresh.referral_id].rome_code == "N1101"  # the first of the batch wins


async def test_a_later_record_of_the_batch_sees_the_referrals_learnt_before_it(
    settings: DispositifsSettings, database: Database
) -> None:
    sent = _sent()
    accepted = _status(sent, "accepted")
    async with database.transaction() as session:
        await _handle(settings, session, sent, 0)
        await _handle(settings, session, accepted, 1)
    assert (await _known(database))[sent.referral_id].status == "accepted"


async def test_a_status_change_or_a_closure_is_one_update_without_a_read(
    settings: DispositifsSettings, database: Database
) -> None:
    sent = _sent()
    async with database.transaction() as session:
        await _handle(settings, session, sent, 0)
    accepted = _status(sent, "accepted")
    closed = ReferralClosed(
        referral_id=sent.referral_id,
        agency_id=sent.agency_id,
        network_id=sent.network_id,
        counsellor_id=sent.counsellor_id,
        structure_code=sent.structure_code,
        closed_at=datetime.now(UTC),
    )
    with statements(database) as seen:
        async with database.transaction() as session:
            await _handle(settings, session, accepted, 1)
    # Was a look-up, then this UPDATE.
    assert [sql.split()[0] for sql, _ in seen] == ["UPDATE"], seen
    assert (await _known(database))[sent.referral_id].status == "accepted"
    with statements(database) as seen:
        async with database.transaction() as session:
            await _handle(settings, session, closed, 2)
            # One unknown here: nothing to write, no error (as before).
            await _handle(settings, session, _status(_sent(), "accepted"), 3)
    assert [sql.split()[0] for sql, _ in seen] == ["UPDATE", "UPDATE"], seen
    known = await _known(database)
    assert known[sent.referral_id].status == "closed"
    assert len(known) == 1


async def test_a_rolled_back_batch_learns_nothing(
    settings: DispositifsSettings, database: Database
) -> None:
    sent = _sent()

    class Abort(Exception):
        pass

    async def learn_then_fail() -> None:
        async with database.transaction() as session:
            await _handle(settings, session, sent, 0)
            raise Abort

    with pytest.raises(Abort):
        await learn_then_fail()
    async with database.transaction() as session:  # the same pool's next transaction
        await session.execute(select(func.count()).select_from(KnownReferral))
    assert await _known(database) == {}


async def test_the_running_consumer_never_reads_known_referrals_to_learn_them(
    settings: DispositifsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    """On the real broker, whatever the fetches make of the batches: one INSERT into
    ``known_referrals`` per transaction that claimed events, and no SELECT of it."""
    topic = unique("referral.events")
    batch = [_sent() for _ in range(12)]
    with statements(database) as seen:
        async with running_consumer(
            settings=settings,
            database=database,
            tables=PLATFORM,
            registry=referral_event_handlers(settings),
            topic=topic,
            group=unique("dispositifs"),
        ):
            for sent in batch:
                await publish(kafka_bootstrap, topic, sent)
            probe = Database(settings.database_url)
            try:

                async def learnt() -> bool:
                    async with probe.reading() as session:
                        count = await session.scalar(
                            select(func.count()).select_from(KnownReferral)
                        )
                    return count == len(batch)

                await eventually(learnt)
            finally:
                await probe.dispose()
    claims = [s for s, _ in seen if s.startswith("INSERT INTO processed_events")]
    learns = [s for s, _ in seen if s.startswith("INSERT INTO known_referrals")]
    reads = [s for s, _ in seen if s.startswith("SELECT") and "known_referrals" in s]
    assert claims, seen
    assert len(learns) == len(claims), seen
    assert reads == [], reads

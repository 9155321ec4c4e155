"""The pager, the transition-log writer, the outbox binding and idempotent creation on a real
store (SQLite, or PostgreSQL with COOP_TEST_POSTGRES_URL), and domain errors over real HTTP."""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import ForeignKey, MetaData, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth.tokens import Principal, Role
from shared.contracts.base import EventData
from shared.db.database import Database
from shared.db.tables import UTCDateTime, platform_tables
from shared.db.transition_log import record_transition
from shared.domain.errors import Conflict, InvalidInput, NotFound, RulesBroken, Violation
from shared.domain.transitions import Transition, TransitionTable
from shared.http.domain_problems import install_domain_problem_handler
from shared.http.idempotency import create_once
from shared.http.pagination import decode_id_cursor, encode_cursor, fetch_page
from shared.http.problems import install_problem_handlers
from shared.messaging.outbox import Outbox


class Base(DeclarativeBase):
    metadata = MetaData()


PLATFORM = platform_tables(Base.metadata)


class Thing(Base):
    __tablename__ = "things"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ThingTransition(Base):
    __tablename__ = "thing_transitions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    thing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("things.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(String(200))


class Status(enum.StrEnum):
    NEW = "new"
    DONE = "done"


LIFECYCLE = TransitionTable(
    "chose", [Transition("finish", frozenset({Status.NEW}), Status.DONE, frozenset({"ops"}))]
)


class ThingFinished(EventData):
    event_type: ClassVar[str] = "coop.test.thing_finished.v1"
    topic: ClassVar[str] = "test.things"
    key_field: ClassVar[str] = "thing_id"

    thing_id: str


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("mechanisms"))
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield db
    await db.dispose()


async def _things(database: Database, count: int) -> list[Thing]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    things = [
        Thing(
            id=uuid.uuid4(),
            name=f"chose {i}",
            status="new",
            # Two things per instant: the id breaks the tie.
            created_at=start + timedelta(minutes=i // 2),
            updated_at=start,
        )
        for i in range(count)
    ]
    async with database.transaction() as session:
        session.add_all(things)
    return things


@pytest.mark.parametrize("newest_first", [True, False])
async def test_pager_walks_every_row_once_in_order(database: Database, newest_first: bool) -> None:
    things = await _things(database, 7)
    expected = sorted(things, key=lambda t: (t.created_at, t.id), reverse=newest_first)
    seen: list[uuid.UUID] = []
    cursor = None
    async with database.sessionmaker() as session:
        while True:
            page = await fetch_page(
                session,
                select(Thing),
                created=Thing.created_at,
                ident=Thing.id,
                cursor=cursor,
                limit=3,
                newest_first=newest_first,
            )
            seen += [t.id for t in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == [t.id for t in expected]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        encode_cursor(["x"]),
        encode_cursor([1, 2]),
        encode_cursor(["2026-01-01T00:00:00+00:00", 12]),
        encode_cursor(["2026-01-01T00:00:00", str(uuid.uuid4())]),  # no time zone
        encode_cursor({"a": 1}),  # type: ignore[arg-type]
    ],
)
async def test_pager_refuses_cursors_that_are_not_ours(database: Database, cursor: str) -> None:
    async with database.sessionmaker() as session:
        with pytest.raises(InvalidInput) as refused:
            await fetch_page(
                session,
                select(Thing),
                created=Thing.created_at,
                ident=Thing.id,
                cursor=cursor,
                limit=3,
            )
    assert refused.value.errors[0].field == "cursor"


async def test_transition_is_logged_and_its_event_staged_in_one_transaction(
    database: Database,
) -> None:
    [thing] = await _things(database, 1)
    outbox = Outbox(PLATFORM, "/coop/test")
    at = datetime(2026, 2, 1, 9, tzinfo=UTC)
    async with database.transaction() as session:
        loaded = await session.get(Thing, thing.id)
        assert loaded is not None
        step = LIFECYCLE.check("finish", Status(loaded.status), "ops")
        record_transition(
            session,
            loaded,
            step,
            current=Status.NEW,
            log_model=ThingTransition,
            aggregate_fk="thing_id",
            actor="ops",
            actor_id="ops-1",
            occurred_at=at,
            comment="fini",
        )
        event = await outbox.stage(session, ThingFinished(thing_id=str(thing.id)))
    async with database.sessionmaker() as session:
        stored = await session.get(Thing, thing.id)
        log = (await session.scalars(select(ThingTransition))).one()
        row = (await session.execute(select(PLATFORM.outbox))).one()
    assert stored is not None
    assert stored.status == "done"
    assert (log.from_status, log.to_status, log.actor, log.comment) == (
        "new",
        "done",
        "ops",
        "fini",
    )
    assert log.occurred_at == at
    assert (row.event_id, row.source, row.topic, row.key) == (
        event.id,
        "/coop/test",
        "test.things",
        str(thing.id),
    )


def _creator(name: str) -> Callable[[AsyncSession], Awaitable[tuple[dict[str, Any], str]]]:
    async def create(session: AsyncSession) -> tuple[dict[str, Any], str]:
        thing_id = uuid.uuid4()
        now = datetime.now(UTC)
        session.add(Thing(id=thing_id, name=name, status="new", created_at=now, updated_at=now))
        await session.flush()
        await asyncio.sleep(0.05)  # let a concurrent request reach its own insert
        return {"id": str(thing_id)}, f"/things/{thing_id}"

    return create


PRINCIPAL = Principal(subject="ops-1", role=Role.OPS)


async def test_concurrent_retries_of_one_key_get_one_resource(database: Database) -> None:
    request = {"method": "POST", "path": "/things", "body": {"name": "a"}}
    responses = await asyncio.gather(
        *(
            create_once(database, PLATFORM, PRINCIPAL, "key-0001", request, _creator("a"))
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    assert all(not isinstance(r, BaseException) for r in responses), responses
    bodies = {bytes(r.body) for r in responses}  # type: ignore[union-attr]
    assert len(bodies) == 1
    async with database.sessionmaker() as session:
        assert len((await session.scalars(select(Thing))).all()) == 1


async def test_a_clash_on_the_resource_is_the_use_cases_conflict(database: Database) -> None:
    await _things(database, 1)  # "chose 0" exists
    clash = Conflict("Une chose de ce nom existe déjà.", code="thing-exists")
    with pytest.raises(Conflict) as refused:
        await create_once(
            database,
            PLATFORM,
            PRINCIPAL,
            "key-0002",
            {"body": "b"},
            _creator("chose 0"),
            on_conflict=clash,
        )
    assert refused.value is clash


async def test_domain_errors_are_problem_documents_over_http() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_domain_problem_handler(app)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("Orientation introuvable.")

    @app.get("/rule")
    async def rule() -> None:
        raise RulesBroken([Violation("pmsmp.duration", "end_date", "Trop long", "art. D5135-3")])

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        missing_response = await client.get("/missing")
        rule_response = await client.get("/rule")
    assert missing_response.status_code == 404
    assert missing_response.headers["content-type"] == "application/problem+json"
    assert missing_response.json()["detail"] == "Orientation introuvable."
    body = rule_response.json()
    assert rule_response.status_code == 422
    assert body["title"] == "Règle non respectée"
    assert body["article"] == "art. D5135-3"
    assert body["errors"] == [
        {"field": "end_date", "location": "body", "message": "Trop long (art. D5135-3)"}
    ]


async def test_store_errors_never_carry_the_bound_values(database: Database) -> None:
    """An exception's text reaches logs and dead-letter headers: no personal value in it."""
    now = datetime.now(UTC)
    email = "camille.martin@example.org"
    async with database.transaction() as session:
        session.add(
            Thing(id=uuid.uuid4(), name=email, status="new", created_at=now, updated_at=now)
        )
    with pytest.raises(IntegrityError) as clash:
        async with database.transaction() as session:
            session.add(
                Thing(id=uuid.uuid4(), name=email, status="new", created_at=now, updated_at=now)
            )
    assert email not in str(clash.value)
    assert "hidden due to hide_parameters" in str(clash.value)


@pytest.mark.parametrize(
    ("cursor", "parse"),
    [
        (encode_cursor(["x"]), int),
        (encode_cursor([[1]]), str),
        (encode_cursor([True]), int),
        (encode_cursor([41]), str),  # a number in place of a text id
        (encode_cursor(["41"]), int),
        (encode_cursor([2**63]), int),  # past the stores' 64-bit ids
    ],
)
def test_id_cursors_that_are_not_ours_are_refused(cursor: str, parse: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_id_cursor(cursor, parse)
    assert refused.value.errors[0].field == "cursor"


def test_an_id_cursor_gives_its_id_back() -> None:
    assert decode_id_cursor(encode_cursor([41]), int) == 41
    assert decode_id_cursor(encode_cursor(["agc-lille"]), str) == "agc-lille"

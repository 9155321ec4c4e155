"""Rows inserted and read straight through the driver (``shared.db.direct``) are the rows Core
writes and reads: the same stored values, the same defaults, the same errors, every statement
seen by the engine's listeners — on SQLite in one hand-off to the connection's thread, on
PostgreSQL through Core."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    event,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from shared.db.database import Database
from shared.db.direct import DirectSelect, insert_rows
from shared.testing import store_kind

metadata = MetaData()
people = Table(
    "people",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("code", String(20), nullable=False, unique=True),
    Column("born_at", DateTime),
    Column("details", JSON),
    Column("active", Boolean, nullable=False, default=True),
    Column("grade", Integer, nullable=False, server_default=text("7")),
)
visits = Table(
    "visits",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("person_id", Uuid, ForeignKey("people.id"), nullable=False),
    Column("note", String(50)),
)
BORN = datetime(1990, 5, 17, 8, 30, 15, 123456)  # a naive column


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("direct"))
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()


async def _stored(db: Database, table: Table, order: Any) -> list[tuple[Any, ...]]:
    async with db.reading() as session:
        return [tuple(r) for r in (await session.execute(select(table).order_by(order))).all()]


async def test_rows_inserted_directly_are_the_rows_core_inserts(database: Database) -> None:
    given = {"code": "A", "born_at": BORN, "details": {"métier": "soudure", "n": [1, 2]}}
    async with database.transaction() as session:
        await session.execute(people.insert(), [{**given, "code": "core"}])
        await insert_rows(session, [(people, [{**given, "code": "direct"}])])
    core, direct = await _stored(database, people, people.c.code)
    assert core[1:] == ("core", BORN, given["details"], True, 7)
    assert direct[1:] == ("direct", BORN, given["details"], True, 7)
    assert isinstance(direct[0], uuid.UUID)
    assert direct[0] != core[0]
    if store_kind() == "sqlite":
        # Byte for byte what Core stored: the UUID's and the date's text, JSON, the boolean.
        async with database.reading() as session:
            raw = (
                await session.execute(
                    text("SELECT born_at, details, active, length(id) FROM people ORDER BY code")
                )
            ).all()
        assert raw[0] == raw[1]


async def test_a_null_and_a_json_null_are_kept_apart_as_core_does(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(people.insert(), [{"code": "core", "details": None}])
        await session.execute(people.insert(), [{"code": "core-unset"}])
        await insert_rows(
            session, [(people, [{"code": "direct", "details": None}, {"code": "direct-unset"}])]
        )
    async with database.reading() as session:
        found = dict(
            (
                await session.execute(
                    text("SELECT code, details IS NULL FROM people ORDER BY code")
                )
            ).all()
        )
    assert found["direct"] == found["core"]
    assert found["direct-unset"] == found["core-unset"] == 1  # left out: SQL NULL


async def test_several_tables_go_in_order_in_one_hand_off(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = uuid.uuid4()
    seen: list[str] = []

    def listen(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: bool) -> None:
        seen.append(statement.split("(")[0].strip())

    calls = [0]
    stock = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await stock(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    event.listen(database.engine.sync_engine, "before_cursor_execute", listen)
    try:
        async with database.transaction() as session:
            await session.connection()  # BEGIN first: not counted below
            before = calls[0]
            await insert_rows(
                session,
                [
                    (people, [{"id": person, "code": "P"}]),
                    (visits, [{"person_id": person, "note": f"v{i}"} for i in range(3)]),
                ],
            )
            during = calls[0] - before
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", listen)
    assert seen == ["INSERT INTO people", "INSERT INTO visits"]  # the foreign key's order
    if store_kind() == "sqlite":
        assert during == 1
    stored = await _stored(database, visits, visits.c.id)
    assert [(row[1], row[2]) for row in stored] == [(person, "v0"), (person, "v1"), (person, "v2")]


async def test_a_unique_key_taken_is_sqlalchemy_s_integrity_error_and_nothing_stays(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await insert_rows(session, [(people, [{"code": "taken"}])])
    person = uuid.uuid4()
    with pytest.raises(IntegrityError) as raised:
        async with database.transaction() as session:
            await insert_rows(
                session,
                [
                    (people, [{"id": person, "code": "new"}]),
                    (visits, [{"person_id": person}]),
                    (people, [{"code": "taken"}]),
                ],
            )
    assert "INSERT INTO people" in str(raised.value.statement)
    assert [row[1] for row in await _stored(database, people, people.c.code)] == ["taken"]
    assert await _stored(database, visits, visits.c.id) == []


async def test_an_unknown_column_is_refused_before_anything_runs(database: Database) -> None:
    with pytest.raises(ValueError, match="no column"):
        async with database.transaction() as session:
            await insert_rows(session, [(people, [{"code": "x", "nickname": "y"}])])
    assert await _stored(database, people, people.c.code) == []


async def test_a_direct_select_returns_what_core_returns(database: Database) -> None:
    person = uuid.uuid4()
    async with database.transaction() as session:
        await insert_rows(
            session,
            [
                (people, [{"id": person, "code": "P", "born_at": BORN, "details": {"a": 1}}]),
                (people, [{"code": "Q", "active": False}]),
            ],
        )
    statement = (
        select(people.c.id, people.c.born_at, people.c.details, people.c.active, people.c.grade)
        .where(people.c.code == bindparam("code"))
        .where(people.c.active.is_(True))  # a value bound in the statement itself
    )
    direct = DirectSelect(statement)
    async with database.reading() as session:
        core = (await session.execute(statement, {"code": "P"})).all()
        found = await direct.rows(session, {"code": "P"})
        inactive = await direct.first(session, {"code": "Q"})
        missing = await direct.first(session, {"code": "nobody"})
    assert [tuple(row) for row in found] == [tuple(row) for row in core]
    assert found[0] == (person, BORN, {"a": 1}, True, 7)
    assert inactive is None
    assert missing is None


async def test_named_rows_read_by_column_name_and_a_limit_in_the_statement(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await insert_rows(session, [(people, [{"code": code} for code in ("A", "B", "C")])])
    statement = select(people.c.code, people.c.grade).order_by(people.c.code.desc()).limit(2)
    async with database.reading() as session:
        found = await DirectSelect(statement, named=True).rows(session, {})
    assert [(row.code, row.grade) for row in found] == [("C", 7), ("B", 7)]
    assert [tuple(row) for row in found] == [("C", 7), ("B", 7)]

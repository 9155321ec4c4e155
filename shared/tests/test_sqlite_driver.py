"""One hand-off to aiosqlite's thread per SQL statement (``shared.db.sqlite_driver``), on a real
SQLite file: the same results, rowcounts, RETURNING rows, executemany and errors as SQLAlchemy's
stock aiosqlite adapter, each statement one queue put and one wake-up of the event loop instead of
three or four, and the private aiosqlite calls it relies on as pinned."""

from __future__ import annotations

import asyncio
import inspect
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import aiosqlite.core
import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    exc,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared.db.database import Database
from shared.db.direct import DirectSelect, insert_rows
from shared.db.sqlite_driver import OneHandOffDBAPI, one_hand_off_dbapi
from shared.testing import store_kind

REPO = Path(__file__).resolve().parents[2]

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("text", String(50), nullable=False),
)

sqlite_only = pytest.mark.skipif(
    store_kind() != "sqlite", reason="the adapter of aiosqlite, SQLite's driver"
)


@pytest.fixture
async def database(
    new_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[Database]:
    db = Database(await new_database("driver"), sqlite_pool_size=1)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
async def stock(database: Database) -> AsyncIterator[AsyncEngine]:
    """SQLAlchemy's stock aiosqlite adapter on the same file (what the bare baselines use)."""
    engine = create_async_engine(database.url, hide_parameters=True)
    yield engine
    await engine.dispose()


@contextmanager
def hand_offs() -> Iterator[list[str]]:
    """Count aiosqlite's hand-offs: each call done on a connection's thread wakes the event loop
    once (``call_soon_threadsafe`` with aiosqlite's ``set_result``/``set_exception``)."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    original = loop.call_soon_threadsafe
    finishers = (aiosqlite.core.set_result, aiosqlite.core.set_exception)

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        if callback in finishers:
            seen.append(callback.__name__)
        return original(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del loop.call_soon_threadsafe  # back to the class's method


async def _begun(connection: AsyncConnection) -> AsyncConnection:
    await connection.begin()  # BEGIN (one hand-off of its own) before counting the statements
    return connection


#: Statements of every shape the services send; each must cost exactly one hand-off.
STATEMENTS: list[tuple[str, Any, Any]] = [
    ("insert", insert(notes).values(code="a", text="first"), None),
    ("insert returning", insert(notes).values(code="b", text="second").returning(notes.c.id), None),
    (
        "insert many values returning",
        insert(notes).returning(notes.c.code),
        [{"code": "c", "text": "third"}, {"code": "d", "text": "fourth"}],
    ),
    (
        "on conflict do nothing returning",
        sqlite_insert(notes)
        .values(code="a", text="again")
        .on_conflict_do_nothing()
        .returning(notes.c.id),
        None,
    ),
    ("select", select(notes.c.id, notes.c.text).order_by(notes.c.id), None),
    ("update", notes.update().where(notes.c.code == "a").values(text="changed"), None),
    (
        "executemany",
        notes.update().where(notes.c.code == bindparam("b_code")).values(text=bindparam("b_text")),
        [{"b_code": "b", "b_text": "x"}, {"b_code": "c", "b_text": "y"}],
    ),
    ("delete", notes.delete().where(notes.c.code == "d"), None),
]


@sqlite_only
async def test_each_statement_is_one_hand_off_where_the_stock_adapter_makes_several(
    database: Database, stock: AsyncEngine
) -> None:
    ours: dict[str, int] = {}
    async with database.engine.connect() as connection:
        await _begun(connection)
        for name, statement, parameters in STATEMENTS:
            with hand_offs() as seen:
                result = await connection.execute(statement, parameters)
                result.all() if result.returns_rows else None
            ours[name] = len(seen)
        await connection.rollback()
    assert ours == {name: 1 for name, _, _ in STATEMENTS}

    theirs: dict[str, int] = {}
    async with stock.connect() as connection:
        await _begun(connection)
        for name, statement, parameters in STATEMENTS:
            with hand_offs() as seen:
                result = await connection.execute(statement, parameters)
                result.all() if result.returns_rows else None
            theirs[name] = len(seen)
        await connection.rollback()
    # Cursor, execute, close — and a fetch for the statements returning rows.
    assert all(count >= 3 for count in theirs.values()), theirs
    assert theirs["select"] == 4


@sqlite_only
async def test_an_orm_style_transaction_costs_one_hand_off_per_statement_plus_commit(
    database: Database,
) -> None:
    statements: list[str] = []
    event.listen(
        database.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    with hand_offs() as seen:
        async with database.transaction() as session:
            await session.execute(insert(notes).values(code="t", text="in a transaction"))
            assert await session.scalar(select(notes.c.text).where(notes.c.code == "t"))
    assert len(statements) == 2
    # BEGIN IMMEDIATE in the first statement's hand-off, the statements, COMMIT; no rollback
    # when the pool takes the connection back.
    assert len(seen) == len(statements) + 1

    statements.clear()
    with hand_offs() as seen:
        async with database.reading() as session:
            assert await session.scalar(select(notes.c.text).where(notes.c.code == "t"))
            await session.execute(insert(notes).values(code="u", text="rolled back"))
    assert len(statements) == 2
    assert len(seen) == len(statements) + 1  # BEGIN with the first, the statements, the ROLLBACK
    async with database.reading() as session:
        assert await session.scalar(select(notes.c.code).where(notes.c.code == "u")) is None


class _Refused(Exception):
    pass


async def _first_statements(session: Any, how: str) -> None:
    """A transaction's first statement, the way each path sends it."""
    if how == "orm":
        await session.execute(insert(notes).values(code="x", text="first"))
    elif how == "direct insert":
        await insert_rows(session, [(notes, [{"code": "x", "text": "first"}])])
    elif how == "direct returning":
        claim = DirectSelect(insert(notes).values(code="x", text="first").returning(notes.c.id))
        assert await claim.first(session, {}) is not None
    else:  # a server-side cursor (stream): the stock cursor, told of the BEGIN first
        streamed = await session.stream(select(notes.c.code))
        assert [row async for row in streamed.scalars()] == []
        await session.execute(insert(notes).values(code="x", text="first"))


@sqlite_only
@pytest.mark.parametrize("how", ["orm", "direct insert", "direct returning", "stream"])
async def test_the_deferred_begin_still_makes_one_transaction_that_holds_the_write_lock(
    database: Database, how: str
) -> None:
    """The BEGIN IMMEDIATE sent with the first statement is a real one, whichever path sends
    that statement: the write lock is held from the first statement on (another connection
    cannot write), and a rollback takes the first statement back (without the BEGIN, sqlite3
    in autocommit would have kept it)."""
    path = database.url.database
    assert path
    locked_out: list[str] = []

    async def first_then_refuse() -> None:
        async with database.transaction() as session:
            await _first_statements(session, how)
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                locked_out.append(str(error))
            finally:
                other.close()
            raise _Refused

    with pytest.raises(_Refused):
        await first_then_refuse()
    assert locked_out == ["database is locked"]
    async with database.reading() as session:
        assert (await session.execute(select(notes.c.code))).all() == []


@sqlite_only
async def test_a_transaction_without_a_statement_costs_no_hand_off(database: Database) -> None:
    with hand_offs() as seen:
        async with database.transaction():
            pass
        async with database.reading():
            pass
    assert seen == []
    async with database.transaction() as session:  # the connection is fine afterwards
        await session.execute(insert(notes).values(code="y", text="after"))
    async with database.reading() as session:
        assert await session.scalar(select(notes.c.text).where(notes.c.code == "y")) == "after"


async def _run_everything(connection: AsyncConnection) -> dict[str, Any]:
    """Every result the services read from a cursor, as a comparable dict."""
    out: dict[str, Any] = {}
    first = await connection.execute(insert(notes).values(code="a", text="first"))
    out["lastrowid"] = first.lastrowid
    out["inserted_primary_key"] = tuple(first.inserted_primary_key or ())
    out["insert rowcount"] = first.rowcount
    returned = await connection.execute(
        insert(notes).values(code="b", text="second").returning(notes.c.id, notes.c.code)
    )
    out["returning"] = [tuple(row) for row in returned]
    many = await connection.execute(
        insert(notes).returning(notes.c.id, notes.c.code, sort_by_parameter_order=True),
        [{"code": f"m{i}", "text": "many"} for i in range(5)],
    )
    out["insert many returning"] = [tuple(row) for row in many]
    skipped = await connection.execute(
        sqlite_insert(notes)
        .values(code="a", text="again")
        .on_conflict_do_nothing()
        .returning(notes.c.id)
    )
    out["conflict returning"] = skipped.all()
    updated = await connection.execute(
        notes.update().where(notes.c.code.like("m%")).values(text="changed")
    )
    out["update rowcount"] = updated.rowcount
    executemany = await connection.execute(
        notes.update().where(notes.c.code == bindparam("b_code")).values(text=bindparam("b_text")),
        [
            {"b_code": "a", "b_text": "x"},
            {"b_code": "b", "b_text": "y"},
            {"b_code": "zz", "b_text": "z"},
        ],
    )
    out["executemany rowcount"] = executemany.rowcount
    raw = await connection.exec_driver_sql(
        "INSERT INTO notes (code, text) VALUES (?, ?)", [("r1", "raw"), ("r2", "raw")]
    )
    out["raw executemany rowcount"] = raw.rowcount
    selected = await connection.execute(
        select(notes.c.id, notes.c.code, notes.c.text).order_by(notes.c.id)
    )
    out["keys"] = list(selected.keys())
    out["rows"] = [tuple(row) for row in selected]
    out["no rows"] = (await connection.execute(select(notes.c.id).where(notes.c.id < 0))).all()
    out["scalar"] = await connection.scalar(text("SELECT count(*) FROM notes"))
    out["deleted"] = (
        await connection.execute(notes.delete().where(notes.c.text == "raw"))
    ).rowcount
    streamed = await connection.stream(select(notes.c.code).order_by(notes.c.id))
    out["streamed"] = [row async for row in streamed.scalars()]  # a server-side cursor
    return out


@sqlite_only
async def test_results_rowcounts_returning_and_executemany_match_the_stock_adapter(
    database: Database, stock: AsyncEngine
) -> None:
    async with database.engine.connect() as connection:
        ours = await _run_everything(connection)
        await connection.rollback()
    async with stock.connect() as connection:
        theirs = await _run_everything(connection)
        await connection.rollback()
    assert ours == theirs
    assert ours["lastrowid"] == 1
    assert ours["inserted_primary_key"] == (1,)
    assert ours["returning"] == [(2, "b")]
    assert ours["insert many returning"] == [(3 + i, f"m{i}") for i in range(5)]
    assert ours["conflict returning"] == []
    assert ours["update rowcount"] == 5
    assert ours["executemany rowcount"] == 2
    assert ours["raw executemany rowcount"] == 2
    assert ours["keys"] == ["id", "code", "text"]
    assert ours["rows"][:2] == [(1, "a", "x"), (2, "b", "y")]
    assert ours["no rows"] == []
    assert ours["scalar"] == 9
    assert ours["deleted"] == 2
    assert ours["streamed"] == ["a", "b", "m0", "m1", "m2", "m3", "m4"]


async def _errors(connection: AsyncConnection) -> list[tuple[type, type, str]]:
    """The errors of a unique violation, a missing table, bad SQL and a NOT NULL violation."""
    failing = [
        (insert(notes).values(code="dup", text="second"), None),
        (text("SELECT * FROM nowhere"), None),
        (text("SELEKT 1"), None),
        (insert(notes), [{"code": "n1", "text": None}, {"code": "n2", "text": None}]),
    ]
    await connection.execute(insert(notes).values(code="dup", text="first"))
    seen = []
    for statement, parameters in failing:
        with pytest.raises(exc.DBAPIError) as caught:
            await connection.execute(statement, parameters)
        seen.append((type(caught.value), type(caught.value.orig), str(caught.value.orig)))
    # Still usable after the errors, and the failed rows are not there.
    assert await connection.scalar(select(notes.c.text).where(notes.c.code == "dup")) == "first"
    return seen


@sqlite_only
async def test_errors_are_mapped_to_the_same_dbapi_exceptions_as_the_stock_adapter(
    database: Database, stock: AsyncEngine
) -> None:
    async with database.engine.connect() as connection:
        ours = await _errors(connection)
        await connection.rollback()
    async with stock.connect() as connection:
        theirs = await _errors(connection)
        await connection.rollback()
    assert ours == theirs
    assert [(kind, orig) for kind, orig, _ in ours] == [
        (exc.IntegrityError, sqlite3.IntegrityError),
        (exc.OperationalError, sqlite3.OperationalError),
        (exc.OperationalError, sqlite3.OperationalError),
        (exc.IntegrityError, sqlite3.IntegrityError),
    ]
    assert "UNIQUE constraint failed: notes.code" in ours[0][2]
    assert "no such table: nowhere" in ours[1][2]
    assert "NOT NULL constraint failed: notes.text" in ours[3][2]


def _hold_write_lock(path: str, locked: asyncio.Event, release: threading.Event, loop: Any) -> None:
    """In a thread: take SQLite's write lock on ``path`` and keep it until ``release``."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO notes (code, text) VALUES ('held', 'by the holder')")
        loop.call_soon_threadsafe(locked.set)
        release.wait(timeout=60)
        connection.execute("COMMIT")
    finally:
        connection.close()


@sqlite_only
async def test_a_locked_database_is_an_operational_error_and_writers_lock_before_writing(
    database: Database, stock: AsyncEngine
) -> None:
    path = database.url.database
    assert path
    loop = asyncio.get_running_loop()
    locked, release = asyncio.Event(), threading.Event()
    holder = asyncio.create_task(asyncio.to_thread(_hold_write_lock, path, locked, release, loop))
    await locked.wait()
    statements: list[str] = []
    event.listen(
        database.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    try:
        # The one pooled connection waits 50 ms for the lock from now on.
        async with database.read_engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA busy_timeout=50")
        messages = []
        for engine in (database.read_engine, stock):
            async with engine.connect() as connection:
                if engine is stock:
                    await connection.exec_driver_sql("PRAGMA busy_timeout=50")
                # A deferred transaction: reading goes on, the write meets the lock.
                assert await connection.scalar(select(notes.c.code)) is None
                with pytest.raises(exc.OperationalError) as caught:
                    await connection.execute(insert(notes).values(code="late", text="late"))
                assert isinstance(caught.value.orig, sqlite3.OperationalError)
                messages.append(str(caught.value.orig))
        assert messages == ["database is locked"] * 2

        # A writing transaction asks for the lock with BEGIN IMMEDIATE, before its first
        # statement, in the same hand-off (shared.db.sqlite_driver): that statement fails on
        # the lock, and nothing of it is written (the codes read below).
        with pytest.raises(exc.OperationalError, match="database is locked") as refused:
            async with database.transaction() as session:
                await session.execute(insert(notes).values(code="never", text="never"))
        assert isinstance(refused.value.orig, sqlite3.OperationalError)
    finally:
        release.set()
        await holder
    async with database.transaction() as session:
        await session.execute(insert(notes).values(code="after", text="after the holder"))
    async with database.reading() as session:
        codes = list((await session.scalars(select(notes.c.code).order_by(notes.c.id))).all())
    assert codes == ["held", "after"]


def test_the_store_uses_the_adapter_on_sqlite_only() -> None:
    sqlite = Database("sqlite+aiosqlite:///:memory:")
    postgres = Database("postgresql+asyncpg://coop:coop@127.0.0.1:1/never")
    assert isinstance(sqlite.engine.dialect.loaded_dbapi, OneHandOffDBAPI)
    assert not isinstance(postgres.engine.dialect.loaded_dbapi, OneHandOffDBAPI)
    # Any other engine keeps SQLAlchemy's stock adapter (the bare baselines of make bench).
    other = create_async_engine("sqlite+aiosqlite:///:memory:")
    assert not isinstance(other.dialect.loaded_dbapi, OneHandOffDBAPI)


async def test_the_private_aiosqlite_calls_used_are_still_there_as_pinned() -> None:
    """Fails loudly if aiosqlite changes what ``shared.db.sqlite_driver`` calls: the version
    installed is the one pinned, ``Connection._execute(fn, *args, **kwargs)`` still runs ``fn`` on
    the connection's thread and returns its result, and ``Connection._conn`` is its sqlite3
    connection."""
    pinned = re.search(
        r"^aiosqlite==(\S+)$", (REPO / "constraints.txt").read_text(), flags=re.MULTILINE
    )
    assert pinned, "aiosqlite must stay pinned in constraints.txt (shared.db.sqlite_driver)"
    assert aiosqlite.__version__ == pinned.group(1)
    signature = inspect.signature(aiosqlite.Connection._execute)
    assert list(signature.parameters) == ["self", "fn", "args", "kwargs"]
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert isinstance(aiosqlite.Connection._conn, property)
    one_hand_off_dbapi()  # its own guard passes

    async with aiosqlite.connect(":memory:") as connection:
        thread, conn = await connection._execute(
            lambda a, b: (threading.get_ident(), connection._conn), "a", b="b"
        )
        assert thread == connection._thread.ident != threading.get_ident()
        assert isinstance(conn, sqlite3.Connection)

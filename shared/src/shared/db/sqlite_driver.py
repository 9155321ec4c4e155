"""SQLAlchemy's aiosqlite adapter with one hand-off to the connection's thread per statement.

aiosqlite runs each SQLite connection on a thread of its own; every call is a hand-off (a queue
put, a future, a wake-up of the event loop). SQLAlchemy's stock cursor makes three or four per
statement: open the cursor, execute, fetch the rows, close. This cursor does all of it in one
function on the connection's thread and keeps what SQLAlchemy reads afterwards (rows, description,
rowcount, lastrowid), so a statement costs one hand-off; the pool's rollback of a connection
whose transaction is already committed costs none (sqlite3 would do nothing with it).

A transaction's ``BEGIN`` (``BEGIN IMMEDIATE`` for a writer, :mod:`shared.db.database`) costs no
hand-off of its own either: :meth:`OneHandOffConnection.defer_begin` keeps it, and the
transaction's first statement runs it first, on the thread, in the same call (this cursor's and
:mod:`shared.db.direct`'s alike, through :func:`begin_here`). Nothing reaches the database in
between, so the write lock is taken before the first statement as it was at ``BEGIN``; a
transaction that runs no statement sends nothing, not even its ``COMMIT``. The errors are the
same: sqlite3's, raised through the same path and mapped by SQLAlchemy to its DBAPI exceptions
as before (a ``BEGIN IMMEDIATE`` that finds the database locked now fails its first statement).

Wired through ``create_async_engine(..., module=one_hand_off_dbapi())`` (SQLAlchemy's documented
way to give a dialect another DBAPI module): only the engines of :class:`shared.db.Database` use
it; any other engine, the bare baselines of ``make bench`` included, keeps the stock adapter.

It calls aiosqlite's private ``Connection._execute`` (queue a function on the connection's thread)
and ``Connection._conn`` (the sqlite3 connection), as SQLAlchemy's own adapter already reaches into
``_tx`` and ``_conn``: aiosqlite is pinned in ``constraints.txt`` and
``shared/tests/test_sqlite_driver.py`` fails if either changes. Server-side cursors (``stream``,
``yield_per``; none in the project) keep the stock cursor. Why and what else was weighed:
``docs/adr/0009-sqlite-one-hand-off-per-statement.md``.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util import await_only as await_

#: What one statement leaves behind: description, rowcount, lastrowid, rows.
_Outcome = tuple[Any, int, int | None, list[Any]]


def begin_here(connection: sqlite3.Connection, begin: str | None) -> None:
    """On the connection's thread, before a transaction's first statement: its deferred
    ``BEGIN`` (:meth:`OneHandOffConnection.defer_begin`), if one is waiting."""
    if begin is not None:
        connection.execute(begin)


def take_begin(adapter: Any) -> str | None:
    """The ``BEGIN`` the adapted connection deferred, once (None: none waiting, or a stock
    connection, which began at once)."""
    if isinstance(adapter, OneHandOffConnection):
        begin, adapter._deferred_begin = adapter._deferred_begin, None
        return begin
    return None


def _execute_here(
    connection: aiosqlite.Connection,
    begin: str | None,
    operation: str,
    parameters: Any,
    many: bool,
) -> _Outcome:
    """On the connection's thread: the deferred ``BEGIN`` if any, then cursor, execute (or
    executemany), fetch, close — one call."""
    begin_here(connection._conn, begin)
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHandOffCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statements each cost one hand-off (none to open or close it)."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    # Nothing is left open on the thread: closing (soft or not) has nothing to hand off.
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # the sqlite3 cursor lives on the thread
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapter = self._adapt_connection
        async with adapter._execute_mutex:
            outcome: _Outcome = await self._connection._execute(
                _execute_here, self._connection, take_begin(adapter), operation, parameters, many
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


class OneHandOffConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_deferred_begin",)
    _cursor_cls = OneHandOffCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        #: The ``BEGIN`` the next statement runs first (:meth:`defer_begin`), or None.
        self._deferred_begin: str | None = None

    def defer_begin(self, begin: str) -> None:
        """Begin the transaction with ``begin`` (``BEGIN`` or ``BEGIN IMMEDIATE``) in the hand-off
        of its first statement instead of one of its own."""
        self._deferred_begin = begin

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self._deferred_begin is not None:
            # The stock server-side cursor knows nothing of a deferred BEGIN: send it first.
            begin = take_begin(self)
            await_(self._connection.execute(begin))  # type: ignore[arg-type]
        return super().cursor(server_side)

    def commit(self) -> None:
        if self._deferred_begin is not None:  # no statement ran: nothing began, nothing to commit
            self._deferred_begin = None
            return
        super().commit()

    def rollback(self) -> None:
        if self._deferred_begin is not None:  # likewise: nothing began
            self._deferred_begin = None
            return
        # sqlite3 rolls nothing back outside a transaction: no hand-off for the pool's reset of a
        # connection whose transaction is already committed (after every writing transaction).
        if self._connection._connection is not None and self._connection.in_transaction:
            super().rollback()


class OneHandOffDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The engine's DBAPI module: the stock one, whose connections use the cursor above."""

    def connect(self, *arg: Any, **kw: Any) -> OneHandOffConnection:
        stock = super().connect(*arg, **kw)  # aiosqlite connected as SQLAlchemy does it
        return OneHandOffConnection(self, stock._connection)


def one_hand_off_dbapi() -> OneHandOffDBAPI:
    """The ``module=`` of an aiosqlite engine; refuses an aiosqlite without the calls it uses."""
    execute = getattr(aiosqlite.Connection, "_execute", None)
    if execute is None or not isinstance(getattr(aiosqlite.Connection, "_conn", None), property):
        raise RuntimeError(
            f"aiosqlite {aiosqlite.__version__} lacks Connection._execute or Connection._conn, "
            "which shared.db.sqlite_driver calls: pin aiosqlite as in constraints.txt"
        )
    return OneHandOffDBAPI(aiosqlite, sqlite3)

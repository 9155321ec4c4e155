"""Rows inserted straight through the driver — on SQLite several tables' in one hand-off — and
small reads the same way (issue 14, ADR 0011).

A hot path that writes a handful of rows (``POST /v1/referrals``: six ``INSERT``) paid
SQLAlchemy's execution machinery for each statement — the cache key, the parameters' construction,
an execution context, a cursor — and one hand-off to aiosqlite's thread each. Here each table's
``INSERT`` is compiled once per set of columns, each row is bound by the dialect's own bind
processors (the stored values are the ones Core would store: UUIDs as SQLite keeps them, dates,
JSON, booleans), and every statement of the batch runs on the connection's thread in one call.

What Core would do, and this does too, for a column the row leaves out: its scalar default, else
its Python callable default (a new ``uuid4``, ``utcnow``), else nothing (not in the ``INSERT``: the
server default, an autoincrement key, or ``NULL``). The errors are SQLAlchemy's (an
``IntegrityError`` for a unique key, which the idempotency of the creations relies on), and the
engine's ``before_cursor_execute`` / ``after_cursor_execute`` listeners see every statement (the
SQL spans of tracing, the statement-budget tests).

:class:`DirectSelect` does the same for a ``SELECT`` a hot path runs every time (the agency a
referral is addressed to, the relay's pending rows): compiled once per dialect, its parameters
bound and its columns read back by the dialect's processors (a UUID, a date, a boolean as Core
returns them), one hand-off.

Always in the caller's transaction, on the session's connection. On SQLite (aiosqlite) a writing
one has already taken the write lock (``BEGIN IMMEDIATE``). On PostgreSQL (asyncpg) each statement
goes straight to asyncpg, one round trip each, in the transaction SQLAlchemy's adapter keeps
(started here as its cursor would start it, if nothing ran yet). Any other driver gets Core
(``executemany`` per run of rows with the same columns).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Select, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from shared.db.sqlite_driver import begin_here, take_begin


class ExecutionContext:
    """What the cursor listeners get as a statement's context (Core gives its execution
    context): a place of their own for what they keep between before and after (tracing keeps
    the statement's span there). ``cache_hit``: compiled once, not again for this call."""

    cache_hit = CacheStats.CACHE_HIT


#: One table's rows for :func:`insert_rows`, in the order they are to be inserted.
Rows = tuple[Table, Sequence[Mapping[str, Any]]]

_ABSENT = object()
_Processor = Callable[[Any], Any] | None


def _processor(found: object) -> _Processor:
    """A bind processor, as SQLAlchemy keeps it (a sequence is a tuple type's: not used here)."""
    if found is None or callable(found):
        return found  # type: ignore[return-value]
    raise ValueError(f"a tuple-typed parameter is not supported here: {found!r}")


class _Statement:
    """One table's ``INSERT`` of a given set of columns, compiled for one dialect."""

    __slots__ = ("keys", "processors", "sql")

    def __init__(self, table: Table, keys: tuple[str, ...], dialect: Dialect) -> None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        self.sql: str = compiled.string
        order = compiled.positiontup or []
        processors = compiled._bind_processors
        self.keys: tuple[str, ...] = tuple(order)
        self.processors: tuple[_Processor, ...] = tuple(
            _processor(processors.get(k)) for k in order
        )
        if set(self.keys) != set(keys):  # e.g. a column SQL computes: not a plain INSERT
            raise ValueError(f"{table.name}: INSERT binds {self.keys}, not {keys}")

    def bind(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            row[key] if process is None else process(row[key])
            for key, process in zip(self.keys, self.processors, strict=True)
        )


class _TableInserts:
    """A table's defaults and its compiled ``INSERT`` per (dialect, columns)."""

    __slots__ = ("_statements", "callables", "scalars", "table")

    def __init__(self, table: Table) -> None:
        self.table = table
        self.scalars: dict[str, Any] = {}
        self.callables: dict[str, Callable[[Any], Any]] = {}
        for column in table.columns:
            default = column.default
            if isinstance(default, ScalarElementColumnDefault):
                self.scalars[column.key] = default.arg
            elif isinstance(default, CallableColumnDefault):
                self.callables[column.key] = default.arg
            elif default is not None:  # a SQL expression or a sequence: Core's business
                raise ValueError(f"{table.name}.{column.key}: default {default!r} not supported")
        #: By (dialect, the row's keys as given): the same builder gives the same order.
        self._statements: dict[tuple[str, tuple[str, ...]], _Statement] = {}

    def complete(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``row`` with the defaults Core would add for the columns it leaves out."""
        full = dict(row)
        for key, value in self.scalars.items():
            if key not in full:
                full[key] = value
        for key, make in self.callables.items():
            if key not in full:
                full[key] = make(None)  # SQLAlchemy wraps a no-argument callable: (context)
        return full

    def statement(self, dialect: Dialect, row: Mapping[str, Any]) -> _Statement:
        cache_key = (dialect.name, tuple(row))
        found = self._statements.get(cache_key)
        if found is None:
            _check_columns(self.table, row)
            keys = tuple(column.key for column in self.table.columns if column.key in row)
            found = self._statements[cache_key] = _Statement(self.table, keys, dialect)
        return found


_TABLES: dict[Table, _TableInserts] = {}


def _check_columns(table: Table, row: Mapping[str, Any]) -> None:
    """Refuse a key that is no column (Core's ``executemany`` would drop it without a word)."""
    unknown = set(row) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name}: no column {sorted(unknown)}")


def _inserts_of(table: Table) -> _TableInserts:
    found = _TABLES.get(table)
    if found is None:
        found = _TABLES[table] = _TableInserts(table)
    return found


#: What runs on the connection's thread: (SQL, parameter tuples) per statement.
_Batch = list[tuple[str, list[tuple[Any, ...]]]]


def _batch(dialect: Dialect, rows: Sequence[Rows]) -> _Batch:
    batch: _Batch = []
    for table, table_rows in rows:
        inserts = _inserts_of(table)
        last: _Statement | None = None
        for row in table_rows:
            full = inserts.complete(row)
            statement = inserts.statement(dialect, full)
            if statement is not last:  # consecutive rows of the same columns: one executemany
                batch.append((statement.sql, []))
                last = statement
            batch[-1][1].append(statement.bind(full))
    return batch


def _run_here(connection: sqlite3.Connection, begin: str | None, batch: _Batch) -> int:
    """On the connection's thread: the transaction's deferred ``BEGIN`` if any, then every
    statement, in order; the index of the one that failed is the exception's
    ``statement_index``."""
    begin_here(connection, begin)
    for index, (sql, parameters) in enumerate(batch):
        try:
            if len(parameters) == 1:
                connection.execute(sql, parameters[0])
            else:
                connection.executemany(sql, parameters)
        except sqlite3.Error as error:
            error.statement_index = index  # type: ignore[attr-defined]
            raise
    return len(batch)


async def insert_rows(session: AsyncSession, rows: Sequence[Rows]) -> None:
    """Insert every table's rows, in the order given, in the session's transaction."""
    connection = await session.connection()
    sync = connection.sync_connection
    assert sync is not None
    driver_name = sync.dialect.driver
    if driver_name not in ("aiosqlite", "asyncpg"):
        await connection.run_sync(_insert_with_core, rows)
        return
    batch = _batch(sync.dialect, rows)
    if not batch:
        return
    listened = sync._has_events or sync.engine._has_events
    contexts = [ExecutionContext() for _ in batch] if listened else []
    for context, (sql, parameters) in zip(contexts, batch, strict=False):
        sync.dispatch.before_cursor_execute(
            sync, None, sql, parameters, context, len(parameters) > 1
        )
    adapter: Any = (await connection.get_raw_connection()).dbapi_connection
    try:
        if driver_name == "aiosqlite":
            await _on_sqlite(adapter, batch)
        else:
            await _on_asyncpg(adapter, batch)
    finally:
        for context, (sql, parameters) in zip(contexts, batch, strict=False):
            sync.dispatch.after_cursor_execute(
                sync, None, sql, parameters, context, len(parameters) > 1
            )


async def _on_sqlite(adapter: Any, batch: _Batch) -> None:
    driver = adapter._connection  # aiosqlite's connection, as SQLAlchemy's adapter holds it
    try:
        async with adapter._execute_mutex:
            await driver._execute(_run_here, driver._conn, take_begin(adapter), batch)
    except sqlite3.Error as error:
        sql, parameters = batch[getattr(error, "statement_index", 0)]
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error


async def _on_asyncpg(adapter: Any, batch: _Batch) -> None:
    """Each statement one round trip (asyncpg's prepared-statement cache), in the transaction
    SQLAlchemy's adapter started (started here as its cursor would, if nothing ran yet)."""
    driver = adapter._connection  # asyncpg's connection
    index = 0
    async with adapter._execute_mutex:
        try:
            if adapter._transaction is None:
                await adapter._start_transaction()
            for index, (sql, parameters) in enumerate(batch):  # noqa: B007 - read on error
                if len(parameters) == 1:
                    await driver.execute(sql, *parameters[0])
                else:
                    await driver.executemany(sql, parameters)
        except Exception as error:
            try:
                adapter._handle_exception(error)  # asyncpg's error as the adapter's DBAPI one
            except adapter.dbapi.Error as translated:
                sql, parameters = batch[index]
                raise DBAPIError.instance(
                    sql, parameters, translated, adapter.dbapi.Error
                ) from error


def _insert_with_core(connection: Connection, rows: Sequence[Rows]) -> None:
    """The same rows as Core ``INSERT`` statements: one ``executemany`` per run of rows of the
    same columns (Core takes one statement's columns from its first row)."""
    for table, table_rows in rows:
        run: list[dict[str, Any]] = []
        for row in table_rows:
            if run and tuple(run[0]) != tuple(row):
                connection.execute(table.insert(), run)
                run = []
            if not run:
                _check_columns(table, row)
            run.append(dict(row))
        if run:
            connection.execute(table.insert(), run)


class _CompiledSelect:
    __slots__ = ("binds", "defaults", "named", "results", "sql")

    def __init__(self, statement: Select[Any] | Insert, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        processors = compiled._bind_processors
        self.binds: tuple[tuple[str, _Processor], ...] = tuple(
            (name, _processor(processors.get(name))) for name in compiled.positiontup or []
        )
        self.defaults: dict[str, Any] = {}
        for name, bind in compiled.binds.items():  # by compiled name (an anonymous one too)
            if bind.expanding:
                raise ValueError(f"{name}: an expanding IN parameter is not supported here")
            if not bind.required:
                self.defaults[name] = bind.value
        self.results: tuple[_Processor, ...] = tuple(
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns
        )
        #: The rows' class when asked for names: a named tuple of the columns' keys.
        make_class: Any = collections.namedtuple  # a class built from the statement's columns
        self.named: Any = make_class(
            "Row", [column.keyname for column in compiled._result_columns], rename=True
        )

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process in self.binds:
            value = given[name] if name in given else self.defaults[name]
            values.append(value if process is None else process(value))
        return tuple(values)

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value)
            for value, process in zip(raw, self.results, strict=True)
        )


def _select_here(
    connection: sqlite3.Connection, begin: str | None, sql: str, parameters: tuple[Any, ...]
) -> Any:
    begin_here(connection, begin)
    return connection.execute(sql, parameters).fetchall()


class DirectSelect:
    """A ``SELECT`` run straight through the driver (aiosqlite or asyncpg; Core on another): its
    rows as tuples of the values Core would return. Or an ``INSERT … RETURNING`` (the
    consumers' claim): the rows it returns, the same way."""

    __slots__ = ("_compiled", "named", "statement")

    def __init__(self, statement: Select[Any] | Insert, *, named: bool = False) -> None:
        self.statement = statement
        #: Rows as named tuples (``row.topic``), as Core's rows read by name; else plain tuples.
        self.named = named
        self._compiled: dict[str, _CompiledSelect] = {}

    async def rows(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> Sequence[tuple[Any, ...]]:
        connection = await session.connection()
        sync = connection.sync_connection
        assert sync is not None
        dialect = sync.dialect
        if dialect.driver not in ("aiosqlite", "asyncpg"):
            return (await connection.execute(self.statement, dict(parameters))).all()  # type: ignore[return-value]
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _CompiledSelect(self.statement, dialect)
        bound = compiled.parameters(parameters)
        listened = sync._has_events or sync.engine._has_events
        context = ExecutionContext()
        if listened:
            sync.dispatch.before_cursor_execute(sync, None, compiled.sql, bound, context, False)
        adapter: Any = (await connection.get_raw_connection()).dbapi_connection
        driver = adapter._connection
        try:
            if dialect.driver == "aiosqlite":
                try:
                    async with adapter._execute_mutex:
                        raw = await driver._execute(
                            _select_here, driver._conn, take_begin(adapter), compiled.sql, bound
                        )
                except sqlite3.Error as error:
                    raise DBAPIError.instance(compiled.sql, bound, error, sqlite3.Error) from error
            else:
                async with adapter._execute_mutex:
                    try:
                        if adapter._transaction is None:
                            await adapter._start_transaction()
                        raw = await driver.fetch(compiled.sql, *bound)
                    except Exception as error:
                        try:
                            adapter._handle_exception(error)
                        except adapter.dbapi.Error as translated:
                            raise DBAPIError.instance(
                                compiled.sql, bound, translated, adapter.dbapi.Error
                            ) from error
        finally:
            if listened:
                sync.dispatch.after_cursor_execute(sync, None, compiled.sql, bound, context, False)
        if self.named:
            make = compiled.named._make
            return [make(compiled.row(tuple(found))) for found in raw]
        return [compiled.row(tuple(found)) for found in raw]

    async def first(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        found = await self.rows(session, parameters)
        return found[0] if found else None

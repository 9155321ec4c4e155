"""Learning referrals in bulk: the ``known_referrals`` rows of a transaction, written together.

A consumer batch (``shared.messaging.consumer``) applies up to 50 records in one transaction, one
handler call each. Learning a ``referral.sent`` used to cost two statements per event (a look-up,
then the ORM's INSERT, flushed by the next event's look-up). Here the row is kept with the session
and written, with every other row kept so far, in **one** ``INSERT … ON CONFLICT (referral_id) DO
NOTHING`` executed once (one ``executemany``):

- before any other statement the session executes (a handler that reads or updates
  ``known_referrals`` — ``session.get``, a query, an update, a lazy load — sees the rows already
  learnt in the same transaction, as before);
- else just before the transaction commits.

Nothing is read back: a referral known already (the same referral under another event id, or
learnt concurrently) is left as it is by ``DO NOTHING``, the first row wins within a batch, as
:func:`shared.db.projections.remember_referral` did. A rolled-back transaction drops the rows with
it. On SQLite and PostgreSQL alike (both have ``ON CONFLICT``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from dispositifs.models import KnownReferral

_KEY = "dispositifs.known_referrals.pending"


def learn(session: AsyncSession, row: dict[str, Any]) -> None:
    """Keep ``row`` (the columns of a ``KnownReferral``) to be written with the transaction."""
    sync = session.sync_session
    pending: dict[uuid.UUID, dict[str, Any]] | None = sync.info.get(_KEY)
    if pending is None:
        pending = sync.info[_KEY] = {}
        event.listen(sync, "do_orm_execute", _before_statement)
        event.listen(sync, "before_commit", _write)
        event.listen(sync, "after_soft_rollback", _forget)
    pending.setdefault(row["referral_id"], row)


def _before_statement(state: ORMExecuteState) -> None:
    _write(state.session)


def _write(session: Session) -> None:
    pending = session.info.get(_KEY)
    if not pending:
        return
    rows = list(pending.values())
    pending.clear()  # before executing: this statement fires ``do_orm_execute`` too
    table = KnownReferral.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(table).on_conflict_do_nothing(index_elements=[table.c.referral_id]),
        rows,
    )


def _forget(session: Session, _previous: Any) -> None:
    pending = session.info.get(_KEY)
    if pending:
        pending.clear()

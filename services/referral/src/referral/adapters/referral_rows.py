"""The rows one ``POST /v1/referrals`` writes, without the ORM's unit of work (issue 14, stop 21)
and straight through the driver (stop 23, ``shared.db.direct``, ADR 0011).

The use case builds its rows as it always did — a :class:`~referral.models.JobSeeker` it creates,
the :class:`~referral.models.Referral`, its first
:class:`~referral.models.ReferralTransition`, the
:class:`~referral.models.PersonalDataAccess` audit rows — but as *transient* objects, never added
to the session: nothing for the flush to sort, no identity map, no attribute history. Their rows,
then the POST's outbox rows and its Idempotency-Key's row, are written by
:func:`shared.db.direct.insert_rows`: one ``INSERT`` per table (an ``executemany`` where there are
several rows), in the order the foreign keys need (job seeker, audit, referral, transition), all in
one hand-off to SQLite's thread (on PostgreSQL, straight to asyncpg, a round trip each). Nothing
is read back: the objects keep what was written (ids are chosen in Python, the transition's id is
not read by the POST), and the response is built from them.

The columns written are what the ORM would have written: every attribute set on the object, and
for an attribute left unset the column's scalar default (``False`` for the flags), else nothing
(SQL ``NULL``; a JSON column left unset stays SQL ``NULL``, not JSON ``null``). So a row reads the
same whichever way it was written, and each table's statement always has the same columns (one
compiled statement).

Also here, read the same way (:class:`shared.db.direct.DirectSelect`): the agency the referral is
addressed to (its columns only), and whether the job seeker sent inline is registered already (its
id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Insert, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from referral.models import Agency, JobSeeker, PersonalDataAccess, Referral, ReferralTransition
from shared.db.direct import DirectSelect, Rows, insert_rows

_UNSET = object()


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


class _Writer:
    """One table, and how to turn one of its objects into the row it inserts."""

    def __init__(self, model: type[Any]) -> None:
        table = self.table = _table(model)
        self.columns: list[tuple[str, Any]] = []
        for column in table.columns:
            default = column.default
            scalar = default.arg if isinstance(default, ScalarElementColumnDefault) else _UNSET
            self.columns.append((column.key, scalar))

    def row(self, obj: object) -> dict[str, Any]:
        values = obj.__dict__  # the attributes set on a transient object, nothing loaded
        row: dict[str, Any] = {}
        for key, default in self.columns:
            value = values.get(key, _UNSET)
            if value is _UNSET:
                if default is _UNSET:
                    continue  # as the ORM: an unset column is not in the INSERT
                value = default
            row[key] = value
        return row


_JOB_SEEKERS = _Writer(JobSeeker)
_AUDIT = _Writer(PersonalDataAccess)
_REFERRALS = _Writer(Referral)
_TRANSITIONS = _Writer(ReferralTransition)


@dataclass(slots=True)
class ReferralRows:
    """What one referral sent writes, kept until :func:`write` (transient objects)."""

    job_seekers: list[JobSeeker] = field(default_factory=list)
    audit: list[PersonalDataAccess] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    transitions: list[ReferralTransition] = field(default_factory=list)
    #: Core statements run after the four tables' rows, in this order, in the same hand-off (the
    #: POST's outbox rows and its Idempotency-Key's row): each an ``INSERT`` and its parameters.
    then: list[tuple[Insert, list[dict[str, Any]] | dict[str, Any]]] = field(default_factory=list)


async def write(session: AsyncSession, rows: ReferralRows) -> None:
    """Insert ``rows`` in the session's transaction: one statement per table, then the
    statements of ``rows.then``, all in one hand-off (:func:`shared.db.direct.insert_rows`). What
    was written is taken out of ``rows`` (a second call writes only what was added since)."""
    batch: list[Rows] = []
    for writer, objects in (
        (_JOB_SEEKERS, rows.job_seekers),
        (_AUDIT, rows.audit),
        (_REFERRALS, rows.referrals),
        (_TRANSITIONS, rows.transitions),
    ):
        if objects:
            batch.append((writer.table, [writer.row(obj) for obj in objects]))
            objects.clear()
    for statement, parameters in rows.then:
        table = statement.table
        assert isinstance(table, Table)
        batch.append((table, parameters if isinstance(parameters, list) else [parameters]))
    rows.then.clear()
    await insert_rows(session, batch)


@dataclass(frozen=True, slots=True)
class AddressedAgency:
    """What a referral needs of the agency it is addressed to."""

    id: str
    name: str
    network_id: str
    address: str | None
    departement: str
    region: str
    active: bool


_AGENCIES = _table(Agency)
_AGENCY = DirectSelect(
    select(*(_AGENCIES.c[f.name] for f in fields(AddressedAgency))).where(
        _AGENCIES.c.id == bindparam("agency_id")
    )
)


async def addressed_agency(session: AsyncSession, agency_id: str) -> AddressedAgency | None:
    """The agency ``agency_id`` (one ``SELECT`` of its columns, no ORM object), or None."""
    found = await _AGENCY.first(session, {"agency_id": agency_id})
    return AddressedAgency(*found) if found is not None else None


_JOB_SEEKERS_TABLE = _table(JobSeeker)
_JOB_SEEKER_ID = DirectSelect(
    select(_JOB_SEEKERS_TABLE.c.id).where(
        _JOB_SEEKERS_TABLE.c.ft_identifier == bindparam("ft_identifier")
    )
)


async def job_seeker_id_of(session: AsyncSession, ft_identifier: str) -> uuid.UUID | None:
    """The id of the job seeker registered under ``ft_identifier`` (one ``SELECT``)."""
    found = await _JOB_SEEKER_ID.first(session, {"ft_identifier": ft_identifier})
    return found[0] if found is not None else None

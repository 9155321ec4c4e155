"""A network's agency directory at its real scale (issue 16, item 6): bulk import and re-sync of
its agencies from CSV or JSON, and its agencies' contacts kept up to date by the network.

- Idempotent: a line equal to the stored agency changes nothing; importing the same file twice
  reports every line ``unchanged`` the second time.
- Batched: lines are checked in memory, then written ``BATCH_SIZE`` at a time with one multi-row
  upsert statement of the agencies and one insert of their specialisations per batch, each
  compiled once and executed over the batch's rows in one executemany call (asyncpg sends the
  batch as one prepared, pipelined statement; SQLite loops in C). A literal multi-row ``VALUES``
  was measured slower: compiling 500 × 15 bound values per batch cost more than the writes.
- Every line at fault is reported with its number, the field and the reason in French; the other
  lines are imported (a directory of 10,000 agencies is not refused for one bad SIRET).
- ``deactivate_missing``: a full re-sync; the network's active agencies absent from the file are
  deactivated (never deleted: referrals point at them).
- Planner statistics: an import that writes at least ``ANALYZE_AFTER_ROWS`` agencies ends with
  ``ANALYZE`` of the agencies and their trades on PostgreSQL (:func:`_refresh_statistics`).
- Who: ops, or the network itself (an agency token of that network, the ERP's): a network
  changes its own agencies only (:func:`referral.access.may_manage_network_directory`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.models import Agency, AgencySpecialisation
from referral.use_cases.common import invalid, not_found
from referral.use_cases.directory_lines import (
    LineError,
    check_line,
)
from referral.use_cases.networks import register_network
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden

#: Lines written per multi-row statement.
BATCH_SIZE = 500
#: Agencies created, updated or deactivated from which an import refreshes PostgreSQL's planner
#: statistics itself: one batch. Autovacuum's analyze comes only after 50 + 10 % of the rows the
#: table had at its last analyze have changed, and not before its next round (a minute by
#: default): right after importing 10,000 agencies into an empty directory the planner still
#: estimates one row and picks nested loops over every agency.
ANALYZE_AFTER_ROWS = BATCH_SIZE
#: The stored fields a line sets (compared to decide whether it changes anything).
_STORED = (
    "name",
    "siret",
    "departement",
    "region",
    "commune",
    "postcode",
    "latitude",
    "longitude",
    "address",
    "email",
    "phone",
    "contact_name",
    "active",
)


@dataclass(frozen=True, slots=True)
class ImportDirectory:
    network_id: str
    #: (line number in the file, the line's fields), as read by :func:`parse_csv`/`parse_json`.
    lines: Sequence[tuple[int, Mapping[str, Any]]]
    deactivate_missing: bool = False


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line: int
    agency_id: str | None
    field: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    network_id: str
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    #: Whether the import ended with ``ANALYZE`` (:data:`ANALYZE_AFTER_ROWS`).
    analyzed: bool = False


@dataclass(frozen=True, slots=True)
class UpdateContacts:
    network_id: str
    agency_id: str
    #: The fields the caller sent (email, phone, contact_name, address), with their new value.
    changes: Mapping[str, Any]


# -- the import ----------------------------------------------------------------------------------


def _check_may_manage(principal: Principal, network_id: str) -> None:
    if not access.may_manage_network_directory(principal, network_id):
        raise Forbidden("Un réseau ne tient que l'annuaire de ses propres agences.")


def _upsert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(Agency.__table__)


async def import_directory(
    session: AsyncSession, command: ImportDirectory, principal: Principal
) -> ImportReport:
    _check_may_manage(principal, command.network_id)
    await register_network(session, command.network_id)
    report = ImportReport(command.network_id, received=len(command.lines))
    stored = await _stored_agencies(session, command.network_id)
    seen_ids: set[str] = set()
    #: Every id the file names, its line rejected or not: a re-sync never deactivates an agency
    #: whose line is only at fault (a typo in its SIRET is not a closure).
    named_ids: set[str] = set()
    seen_sirets: set[str] = set()
    checked: list[tuple[int, dict[str, Any]]] = []
    for number, values in command.lines:
        raw_id = values.get("id") if isinstance(values.get("id"), str) else None
        if raw_id:
            named_ids.add(raw_id.strip())
        try:
            line = check_line(command.network_id, values)
        except LineError as error:
            report.rejected.append(RejectedLine(number, raw_id, error.field, error.reason))
            continue
        if line["id"] in seen_ids:
            report.rejected.append(
                RejectedLine(number, line["id"], "id", "identifiant en double dans le fichier")
            )
            continue
        if line["siret"] in seen_sirets:
            report.rejected.append(
                RejectedLine(number, line["id"], "siret", "SIRET en double dans le fichier")
            )
            continue
        seen_ids.add(line["id"])
        seen_sirets.add(line["siret"])
        checked.append((number, line))
    now = datetime.now(UTC)
    for start in range(0, len(checked), BATCH_SIZE):
        batch = checked[start : start + BATCH_SIZE]
        accepted = await _refuse_conflicts(session, command.network_id, batch, report)
        changed = []
        for _number, line in accepted:
            before = stored.get(line["id"])
            if before is None:
                report.created += 1
            elif all(before[name] == line[name] for name in (*_STORED, "rome_codes")):
                report.unchanged += 1
                continue
            else:
                report.updated += 1
            changed.append(line)
        await _write(session, command.network_id, changed, now)
    if command.deactivate_missing:
        missing = [
            agency_id
            for agency_id, row in stored.items()
            if row["active"] and agency_id not in named_ids
        ]
        for start in range(0, len(missing), BATCH_SIZE):
            result = await session.execute(
                update(Agency)
                .where(Agency.id.in_(missing[start : start + BATCH_SIZE]))
                .values(active=False, directory_updated_at=now)
            )
            report.deactivated += result.rowcount or 0
    if report.created + report.updated + report.deactivated >= ANALYZE_AFTER_ROWS:
        report.analyzed = await _refresh_statistics(session)
    return report


async def _refresh_statistics(session: AsyncSession) -> bool:
    """``ANALYZE`` the agencies and their trades, on PostgreSQL only; whether it ran.

    In the import's own transaction: PostgreSQL's ``ANALYZE`` (unlike ``VACUUM``) runs inside
    one and samples the rows this transaction wrote as live; the statistics it stores
    (``pg_statistic``) become visible with the import's commit, and are rolled back with it. It
    holds a SHARE UPDATE EXCLUSIVE lock on the two tables until then: other writes and reads go
    on, a second import's ``ANALYZE`` waits for the first to commit.

    Not on SQLite (development and tests): it has no automatic analyze, so a ``sqlite_stat1``
    written once would never be refreshed and would steer later plans from stale figures; without
    it SQLite's planner assumes every index selective, which is what the indexes are for."""
    if session.bind.dialect.name != "postgresql":
        return False
    for table in (Agency.__tablename__, AgencySpecialisation.__tablename__):
        await session.execute(text(f'ANALYZE "{table}"'))
    return True


async def _stored_agencies(session: AsyncSession, network_id: str) -> dict[str, dict[str, Any]]:
    """The network's agencies as stored (columns only: 10,000 rows are read in one query)."""
    columns = [getattr(Agency, name) for name in ("id", *_STORED)]
    stored = {
        row.id: {**row._mapping, "rome_codes": []}
        for row in await session.execute(select(*columns).where(Agency.network_id == network_id))
    }
    specialisations = select(AgencySpecialisation.agency_id, AgencySpecialisation.rome_code).join(
        Agency, Agency.id == AgencySpecialisation.agency_id
    )
    for agency_id, code in await session.execute(
        specialisations.where(Agency.network_id == network_id).order_by(
            AgencySpecialisation.agency_id, AgencySpecialisation.rome_code
        )
    ):
        stored[agency_id]["rome_codes"].append(code)
    return stored


async def _refuse_conflicts(
    session: AsyncSession,
    network_id: str,
    batch: list[tuple[int, dict[str, Any]]],
    report: ImportReport,
) -> list[tuple[int, dict[str, Any]]]:
    """The lines of ``batch`` that clash with no other network's agency (same id) and no other
    agency's SIRET; the others are reported."""
    ids = [line["id"] for _, line in batch]
    sirets = [line["siret"] for _, line in batch]
    elsewhere = dict(
        (
            await session.execute(
                select(Agency.id, Agency.network_id).where(
                    Agency.id.in_(ids), Agency.network_id != network_id
                )
            )
        ).all()
    )
    siret_owner = dict(
        (
            await session.execute(select(Agency.siret, Agency.id).where(Agency.siret.in_(sirets)))
        ).all()
    )
    accepted = []
    for number, line in batch:
        if line["id"] in elsewhere:
            report.rejected.append(
                RejectedLine(
                    number,
                    line["id"],
                    "id",
                    f"l'identifiant est déjà celui d'une agence du réseau {elsewhere[line['id']]}",
                )
            )
        elif siret_owner.get(line["siret"], line["id"]) != line["id"]:
            report.rejected.append(
                RejectedLine(
                    number,
                    line["id"],
                    "siret",
                    f"SIRET déjà enregistré pour l'agence {siret_owner[line['siret']]}",
                )
            )
        else:
            accepted.append((number, line))
    return accepted


async def _write(
    session: AsyncSession, network_id: str, lines: list[dict[str, Any]], now: datetime
) -> None:
    """One upsert of the batch's agencies, their specialisations replaced in two statements."""
    if not lines:
        return
    rows = [
        {
            "id": line["id"],
            "network_id": network_id,
            **{name: line[name] for name in _STORED},
            "directory_updated_at": now,
        }
        for line in lines
    ]
    # One upsert statement for the batch, compiled once (cached) and executed over its rows.
    statement = _upsert(session)
    statement = statement.on_conflict_do_update(
        index_elements=[Agency.__table__.c.id],
        set_={name: statement.excluded[name] for name in (*_STORED, "directory_updated_at")},
    )
    await session.execute(statement, rows)
    ids = [line["id"] for line in lines]
    specialisation = AgencySpecialisation.__table__
    await session.execute(delete(specialisation).where(specialisation.c.agency_id.in_(ids)))
    specialisations = [
        {"agency_id": line["id"], "rome_code": code}
        for line in lines
        for code in line["rome_codes"]
    ]
    for start in range(0, len(specialisations), BATCH_SIZE * 4):
        await session.execute(
            insert(specialisation), specialisations[start : start + BATCH_SIZE * 4]
        )


# -- contacts kept up to date by the network -----------------------------------------------------

_CONTACT_FIELDS = ("email", "phone", "contact_name", "address")


async def update_contacts(
    session: AsyncSession, command: UpdateContacts, principal: Principal
) -> Agency:
    """The network (or ops) changes one of its agencies' contacts; another network's agency is
    answered as unknown."""
    _check_may_manage(principal, command.network_id)
    agency = await session.get(Agency, command.agency_id, with_for_update=True)
    if agency is None or agency.network_id != command.network_id:
        raise not_found(f"Agence {command.agency_id} du réseau {command.network_id}")
    values = dict(command.changes)
    for name, value in values.items():
        if name not in _CONTACT_FIELDS:
            raise invalid(name, "champ inconnu", f"{name} n'est pas un contact de l'agence.")
        try:
            checked = check_line(
                command.network_id,
                {
                    "id": agency.id,
                    "name": agency.name,
                    "siret": agency.siret,
                    "departement": agency.departement,
                    name: value,
                },
            )
        except LineError as error:
            raise invalid(error.field, error.reason, f"{error.field} : {error.reason}.") from None
        setattr(agency, name, checked[name])
    agency.directory_updated_at = datetime.now(UTC)
    await session.flush()
    return agency


def rejected_lines(report: ImportReport) -> Iterable[dict[str, Any]]:
    return (
        {"line": r.line, "agency_id": r.agency_id, "field": r.field, "reason": r.reason}
        for r in sorted(report.rejected, key=lambda r: r.line)
    )

"""An Idempotency-Key belongs to the whole caller: the same subject in another structure or network
never gets the stored reply of the first (issue 10: 75101's referral was replayed to 59350)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import MetaData, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.auth.tokens import Principal, Role
from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.http.idempotency import REPLAY_HEADER, create_once


class Base(DeclarativeBase):
    metadata = MetaData()


PLATFORM = platform_tables(Base.metadata)


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("caller-idempotency"))
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield db
    await db.dispose()


def _create(owner: str) -> Callable[[AsyncSession], Awaitable[tuple[dict[str, Any], str]]]:
    async def create(session: AsyncSession) -> tuple[dict[str, Any], str]:
        note = Note(id=uuid.uuid4(), owner=owner)
        session.add(note)
        return {"id": str(note.id), "owner": owner}, f"/notes/{note.id}"

    return create


REQUEST = {"method": "POST", "path": "/notes", "body": {"text": "même corps"}}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            Principal("alice", Role.COUNSELLOR, ft_structure="75101"),
            Principal("alice", Role.COUNSELLOR, ft_structure="59350"),
        ),
        (
            Principal("erp", Role.AGENCY, agency_id="a1", network_id="n1"),
            Principal("erp", Role.AGENCY, agency_id="a1", network_id="n2"),
        ),
    ],
)
async def test_the_same_subject_in_another_organisation_is_another_caller(
    database: Database, first: Principal, second: Principal
) -> None:
    key = str(uuid.uuid4())
    original = await create_once(database, PLATFORM, first, key, REQUEST, _create("first"))
    assert original.status_code == 201
    other = await create_once(database, PLATFORM, second, key, REQUEST, _create("second"))
    assert other.status_code == 201
    assert REPLAY_HEADER not in other.headers
    assert json.loads(bytes(other.body))["owner"] == "second"

    replay = await create_once(database, PLATFORM, first, key, REQUEST, _create("again"))
    assert replay.headers[REPLAY_HEADER] == "true"
    assert json.loads(bytes(replay.body)) == json.loads(bytes(original.body))
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Note)) == 2

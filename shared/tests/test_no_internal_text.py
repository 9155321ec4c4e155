"""Nothing internal leaks (issue 10, item 8): a database error's text never carries the bound
values (they are personal data, often), on the real store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.exc import IntegrityError

from shared.db.database import Database

PEOPLE = Table(
    "people",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
)


async def test_a_database_error_names_no_bound_value(
    new_database: Callable[[str], Awaitable[str]],
) -> None:
    database = Database(await new_database("leaks"))
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(PEOPLE.metadata.create_all)
        async with database.transaction() as session:
            await session.execute(PEOPLE.insert().values(name="Camille Martin"))
        with pytest.raises(IntegrityError) as caught:
            async with database.transaction() as session:
                await session.execute(PEOPLE.insert().values(name="Camille Martin"))
        assert "Camille" not in str(caught.value)
        assert "hidden due to hide_parameters" in str(caught.value)
    finally:
        await database.dispose()

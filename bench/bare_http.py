"""The bare HTTP baseline: a FastAPI endpoint doing one SQLAlchemy-async INSERT, nothing else.

``python -m bench.bare_http --database-url … --port …`` serves ``POST /items`` with uvicorn, on the
same store kind as the project (SQLite in WAL with ``synchronous=NORMAL``, as the services' store;
or PostgreSQL), so that the ratio between the two measures code, not storage settings.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, event
from sqlalchemy.ext.asyncio import create_async_engine

metadata = MetaData()
items = Table(
    "bare_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("body", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def create_app(database_url: str) -> FastAPI:
    engine = create_async_engine(database_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    async def lifespan(_app: FastAPI) -> Any:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/items", status_code=201)
    async def create(body: dict[str, Any]) -> dict[str, str]:
        ident = str(uuid.uuid4())
        async with engine.begin() as connection:
            await connection.execute(
                items.insert().values(id=ident, body=body, created_at=datetime.now(UTC))
            )
        return {"id": ident}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_http")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.database_url), host="127.0.0.1", port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()

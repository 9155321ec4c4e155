"""The bare HTTP baseline: a FastAPI endpoint doing one SQLAlchemy-async INSERT, nothing else.

``--middleware base`` adds one Starlette ``BaseHTTPMiddleware`` (as ``shared.http.app``'s request
context is today) and ``--middleware asgi`` the same work as a pure ASGI middleware (a request id
bound for the logs and returned in ``X-Request-ID``), to price the mechanism itself.

``python -m bench.bare_http --database-url … --port …`` serves ``POST /items`` with uvicorn, on the
same store kind as the project (SQLite in WAL with ``synchronous=NORMAL``, as the services' store;
or PostgreSQL), so that the ratio between the two measures code, not storage settings.

``--publish-topic T --bootstrap B`` makes it the first half of the bare pipeline (the end-to-end
baseline): after the INSERT commits, the item is sent to Kafka (``acks=all``, idempotent, the
``ce_id`` header carrying its id) and the response waits for the acknowledgement; the bare consumer
(``bench.bare_consumer``) is the second half.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
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


class RequestIdMiddleware:
    """Pure ASGI: the request id bound for the logs and set on the response, no extra task."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(
    database_url: str,
    middleware: str = "none",
    *,
    publish_topic: str | None = None,
    bootstrap: str | None = None,
) -> FastAPI:
    engine = create_async_engine(database_url)
    producer: Any = None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    async def lifespan(_app: FastAPI) -> Any:
        nonlocal producer
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        if publish_topic:
            from aiokafka import AIOKafkaProducer

            from shared.messaging.kafka import PRODUCER_OPTIONS

            # The platform's producer settings: the comparison measures code, not settings.
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_OPTIONS)
            await producer.start()
        yield
        if producer is not None:
            await producer.stop()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    if middleware == "base":

        @app.middleware("http")
        async def request_context(request: Request, call_next: Any) -> Response:
            request_id = str(uuid.uuid4())
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=request_id)
            response: Response = await call_next(request)
            response.headers["X-Request-ID"] = request_id
            return response

    elif middleware == "asgi":
        app.add_middleware(RequestIdMiddleware)

    @app.post("/items", status_code=201)
    async def create(body: dict[str, Any]) -> dict[str, str]:
        ident = str(uuid.uuid4())
        async with engine.begin() as connection:
            await connection.execute(
                items.insert().values(id=ident, body=body, created_at=datetime.now(UTC))
            )
        if producer is not None:
            await producer.send_and_wait(
                publish_topic,
                value=json.dumps({"id": ident, **body}).encode(),
                key=ident.encode(),
                headers=[("ce_id", ident.encode())],
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
    parser.add_argument("--middleware", choices=("none", "base", "asgi"), default="none")
    parser.add_argument("--publish-topic", help="send each item to this Kafka topic")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (with --publish-topic)")
    args = parser.parse_args()
    uvicorn.run(
        create_app(
            args.database_url,
            args.middleware,
            publish_topic=args.publish_topic,
            bootstrap=args.bootstrap,
        ),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()

"""The bare consumer baseline: aiokafka, one INSERT per record, one commit per fetched batch.

``python -m bench.bare_consumer --bootstrap … --topic … --group … --database-url …`` reads the
topic from the beginning and stores each record's CloudEvent id and data (SQLAlchemy async, same
store kind and settings as the services), committing the transaction and then the offsets once
per ``getmany`` batch. Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from datetime import UTC, datetime
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer
from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, event
from sqlalchemy.ext.asyncio import create_async_engine

from shared.messaging.kafka import CONSUMER_FETCH_OPTIONS

metadata = MetaData()
received = Table(
    "bare_received",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


async def run(bootstrap: str, topic: str, group: str, database_url: str) -> None:
    engine = create_async_engine(database_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **CONSUMER_FETCH_OPTIONS,  # the platform's consumers' fetch settings
    )
    await consumer.start()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            if not batches:
                continue
            async with engine.begin() as connection:
                for records in batches.values():
                    for record in records:
                        headers = dict(record.headers or ())
                        await connection.execute(
                            received.insert().values(
                                event_id=headers["ce_id"].decode(),
                                data=json.loads(record.value),
                                received_at=datetime.now(UTC),
                            )
                        )
            await consumer.commit()
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_consumer")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    # The services' consumers run on uvicorn's loop, uvloop: the baseline runs on it too.
    uvloop.run(run(args.bootstrap, args.topic, args.group, args.database_url))


if __name__ == "__main__":
    main()

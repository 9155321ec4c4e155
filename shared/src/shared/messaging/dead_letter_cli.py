"""``coop-dlq``: inspect and replay dead letters.

    coop-dlq list   --topic referral.events.dlq
    coop-dlq replay --topic referral.events.dlq --offset 3 [--offset 7 …] | --all

Replaying sends the original key, value and headers back to the original topic; fix the cause
(a bug, a missing agency…) before replaying.

The connection comes from ``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD`` and ``KAFKA_SSL_CAFILE``
(an operator's SCRAM user on a secured cluster); ``--bootstrap`` overrides the first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.envelope import decode_headers
from shared.messaging.dead_letter import original_headers, replay_target
from shared.messaging.kafka import environment_options


def _options(bootstrap: str) -> dict[str, Any]:
    return environment_options() | {"bootstrap_servers": bootstrap}


async def _read_all(bootstrap: str, topic: str, options: dict[str, Any] | None = None) -> list[Any]:
    consumer = AIOKafkaConsumer(**(options or _options(bootstrap)), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise SystemExit(f"topic {topic} not found")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for items in batch.values():
                records.extend(items)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def _list(args: argparse.Namespace) -> None:
    for record in await _read_all(args.bootstrap, args.topic):
        headers = decode_headers(record.headers)
        print(
            json.dumps(
                {
                    "partition": record.partition,
                    "offset": record.offset,
                    "key": record.key.decode(errors="replace") if record.key else None,
                    "reason": headers.get("dlq_reason"),
                    "error": headers.get("dlq_error"),
                    "origin": f"{headers.get('dlq_original_topic')}"
                    f"[{headers.get('dlq_original_partition')}]@{headers.get('dlq_original_offset')}",
                    "consumer": headers.get("dlq_consumer"),
                    "failed_at": headers.get("dlq_failed_at"),
                    "ce_type": headers.get("ce_type"),
                    "ce_id": headers.get("ce_id"),
                },
                ensure_ascii=False,
            )
        )


async def _replay(args: argparse.Namespace) -> None:
    wanted = set(args.offset or [])
    records = [
        r for r in await _read_all(args.bootstrap, args.topic) if args.all or r.offset in wanted
    ]
    if not records:
        raise SystemExit("nothing to replay")
    producer = AIOKafkaProducer(**_options(args.bootstrap), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for record in records:
            target = replay_target(args.topic, record.headers)
            await producer.send_and_wait(
                target, value=record.value, key=record.key, headers=original_headers(record.headers)
            )
            print(f"replayed {args.topic}[{record.partition}]@{record.offset} -> {target}")
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coop-dlq", description=__doc__)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print the dead letters of a topic, one JSON per line")
    listing.add_argument("--topic", required=True)
    replay = sub.add_parser("replay", help="send dead letters back to their original topic")
    replay.add_argument("--topic", required=True)
    replay.add_argument("--offset", type=int, action="append")
    replay.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "replay" and not (args.all or args.offset):
        parser.error("replay needs --offset N or --all")
    asyncio.run(_list(args) if args.command == "list" else _replay(args))


if __name__ == "__main__":
    main()

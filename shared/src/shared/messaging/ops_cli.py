"""``coop-ops``: the operator's tool, with progress bars (issue 15).

    coop-ops lag [--group G …] [--json]              consumer lag per group, topic, partition
    coop-ops replay --topic T.dlq (--all | --offset N …)   dead letters back to their topic
    coop-ops outbox-status --database-url URL         what waits in a service's outbox, and why
    coop-ops outbox-redrive --database-url URL [--topic T] [--since ISO] [--until ISO]
                                                      publish published events again (backfill)
    coop-ops network-credentials NETWORK              a network's new SCRAM password (rotation)
    coop-ops kafka-access                             the services' SCRAM users and ACLs (as admin)
    coop-ops erasure-status ID --url URL [--wait S]   an erasure, service by service

Kafka connection from ``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_CAFILE``
(an operator's SCRAM user; ``network-credentials`` needs the provisioning principal's).
``kafka-access`` (run once per cluster, and again after a password change: it is idempotent) takes
the services' passwords from the services' own variables (``REFERRAL_KAFKA_SASL_PASSWORD``,
``DISPOSITIFS_KAFKA_SASL_PASSWORD``, ``NOTIFICATIONS_KAFKA_SASL_PASSWORD``, and
``REFERRAL_KAFKA_PROVISIONING_USERNAME`` / ``_PASSWORD`` for the provisioning principal); it
connects as a super user (``KAFKA_SASL_USERNAME``). ``docker-compose.yml`` runs it before the
services start; ``make up SECURE=1`` calls the same :func:`grant_platform_access`.
Progress goes to stderr, results to stdout (JSON with ``--json``): a pipe gets only the results.

Replaying and re-driving are safe: every consumer deduplicates on the event id
(``processed_events``), so an event a consumer had already handled changes nothing there; a new
consumer group (a projection being rebuilt) gets every event again, in the original order per key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import MetaData, func, select

from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.messaging.dead_letter import original_headers, replay_target
from shared.messaging.dead_letter_cli import _read_all
from shared.messaging.kafka import environment_options
from shared.messaging.kafka_acl import (
    AclBinding,
    Operation,
    ResourceType,
    allow,
    create_acls,
    upsert_scram_user,
)
from shared.messaging.provisioning import SERVICE_TOPICS, principal, service_acls

_err = Console(stderr=True)
_out = Console()


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options = environment_options()
    if args.bootstrap:
        options["bootstrap_servers"] = args.bootstrap
    return options


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=False,
    )


# -- lag -------------------------------------------------------------------------------------------


async def consumer_lag(options: dict[str, Any], groups: list[str] | None) -> list[dict[str, Any]]:
    """Per group, topic and partition: committed offset, end offset, lag."""
    admin = AIOKafkaAdminClient(**options, client_id="coop-ops")
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, client_id="coop-ops")
    await admin.start()
    await consumer.start()
    try:
        if not groups:
            groups = sorted(
                g[0] if isinstance(g, tuple) else g["group_id"]
                for g in await admin.list_consumer_groups()
            )
        rows = []
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            tps = sorted(committed, key=lambda tp: (tp.topic, tp.partition))
            ends = await consumer.end_offsets(tps) if tps else {}
            for tp in tps:
                offset = committed[tp].offset
                rows.append(
                    {
                        "group": group,
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": offset,
                        "end": ends[tp],
                        "lag": max(ends[tp] - max(offset, 0), 0),
                    }
                )
        return rows
    finally:
        await consumer.stop()
        await admin.close()


async def _lag(args: argparse.Namespace) -> int:
    rows = await consumer_lag(_options(args), args.group)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    columns = ("group", "topic", "partition", "committed", "end", "lag")
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns), style="bold red" if row["lag"] else None)
    _out.print(table)
    total = sum(row["lag"] for row in rows)
    _out.print(f"total lag: {total}")
    return 0


# -- dead letters ----------------------------------------------------------------------------------


async def _replay(args: argparse.Namespace) -> int:
    options = _options(args)
    wanted = set(args.offset or [])
    with _err.status(f"reading {args.topic}…"):
        records = [
            r
            for r in await _read_all(options["bootstrap_servers"], args.topic, options)
            if args.all or r.offset in wanted
        ]
    if not records:
        _err.print("nothing to replay")
        return 1
    producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        with _progress() as progress:
            task = progress.add_task(f"replaying {args.topic}", total=len(records))
            for record in records:
                target = replay_target(args.topic, record.headers)
                await producer.send_and_wait(
                    target,
                    value=record.value,
                    key=record.key,
                    headers=original_headers(record.headers),
                )
                print(
                    json.dumps(
                        {
                            "replayed": f"{args.topic}[{record.partition}]@{record.offset}",
                            "to": target,
                        }
                    )
                )
                progress.advance(task)
    finally:
        await producer.stop()
    return 0


# -- outbox ----------------------------------------------------------------------------------------


def _outbox_table() -> Any:
    return platform_tables(MetaData()).outbox


async def _outbox_status(args: argparse.Namespace) -> int:
    outbox = _outbox_table()
    database = Database(args.database_url)
    try:
        async with database.read_session() as session:
            pending = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            oldest = await session.scalar(
                select(func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
            )
            failing = (
                await session.execute(
                    select(outbox.c.id, outbox.c.topic, outbox.c.attempts, outbox.c.last_error)
                    .where(outbox.c.published_at.is_(None), outbox.c.attempts > 0)
                    .order_by(outbox.c.id)
                    .limit(20)
                )
            ).all()
    finally:
        await database.dispose()
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
    result = {
        "pending": pending,
        "oldest_age_seconds": round(age, 1),
        # The relay's own error text (a Kafka error), never the event's data.
        "failing": [
            {"id": r.id, "topic": r.topic, "attempts": r.attempts, "last_error": r.last_error}
            for r in failing
        ],
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


async def _outbox_redrive(args: argparse.Namespace) -> int:
    """Publish again the events already published (still in the outbox: its retention), in their
    original order, with their ids, keys and trace context: consumers skip what they had."""
    from shared.messaging.outbox import _to_event

    outbox = _outbox_table()
    conditions = [outbox.c.published_at.is_not(None)]
    if args.topic:
        conditions.append(outbox.c.topic == args.topic)
    if args.since:
        conditions.append(outbox.c.occurred_at >= datetime.fromisoformat(args.since))
    if args.until:
        conditions.append(outbox.c.occurred_at < datetime.fromisoformat(args.until))
    database = Database(args.database_url)
    producer: AIOKafkaProducer | None = None
    try:
        async with database.read_session() as session:
            total = await session.scalar(
                select(func.count()).select_from(outbox).where(*conditions)
            )
        if not total:
            _err.print("nothing to re-drive")
            return 1
        if args.dry_run:
            print(json.dumps({"would_publish": total}))
            return 0
        producer = AIOKafkaProducer(**_options(args), enable_idempotence=True, acks="all")
        await producer.start()
        published, last_id = 0, 0
        with _progress() as progress:
            task = progress.add_task("re-driving the outbox", total=total)
            while True:
                async with database.read_session() as session:
                    rows = (
                        await session.execute(
                            select(outbox)
                            .where(*conditions, outbox.c.id > last_id)
                            .order_by(outbox.c.id)
                            .limit(500)
                        )
                    ).all()
                if not rows:
                    break
                deliveries = []
                for row in rows:
                    value, headers = _to_event(row).to_kafka()
                    deliveries.append(
                        await producer.send(
                            row.topic, value=value, key=row.key.encode(), headers=headers
                        )
                    )
                await asyncio.gather(*deliveries)
                published += len(rows)
                last_id = rows[-1].id
                progress.advance(task, len(rows))
        print(json.dumps({"republished": published}))
        return 0
    finally:
        if producer is not None:
            await producer.stop()
        await database.dispose()


# -- networks --------------------------------------------------------------------------------------


async def _network_credentials(args: argparse.Namespace) -> int:
    from shared.messaging.kafka_acl import create_acls, upsert_scram_user
    from shared.messaging.provisioning import (
        KafkaCredentials,
        network_acls,
        network_user,
    )

    options = _options(args)
    mechanism = options.get("sasl_mechanism")
    if not mechanism:
        _err.print("KAFKA_SASL_MECHANISM (and the provisioning principal's user) required")
        return 2
    import secrets

    credentials = KafkaCredentials(
        network_user(args.network), secrets.token_urlsafe(32), str(mechanism)
    )
    admin = AIOKafkaAdminClient(**options, client_id="coop-ops")
    await admin.start()
    try:
        await upsert_scram_user(
            admin, credentials.username, credentials.password, mechanism=credentials.mechanism
        )
        await create_acls(admin, network_acls(args.network))
    finally:
        await admin.close()
    # Once, on stdout: to be handed over a channel meant for secrets.
    print(
        json.dumps(
            {
                "username": credentials.username,
                "password": credentials.password,
                "mechanism": credentials.mechanism,
            }
        )
    )
    return 0


# -- the platform's own principals ----------------------------------------------------------------

#: Creates SCRAM users and ACLs (ALTER on the cluster), nothing else; held by referral only
#: (docs/adr/0008-kafka-security.md).
PROVISIONER_USER = "coop-provisioner"
#: The service holding the provisioning principal (it onboards the networks).
PROVISIONING_SERVICE = "referral"


@dataclass(frozen=True, slots=True)
class PlatformUser:
    """A SCRAM user of the platform and its password (never printed, never logged)."""

    name: str
    password: str = field(repr=False)


def platform_acls(services: Sequence[str], provisioner: str | None) -> list[AclBinding]:
    """Each service's ACLs (:func:`service_acls`), and the provisioner's ALTER on the cluster."""
    bindings: list[AclBinding] = []
    if provisioner is not None:
        bindings += allow(
            principal(provisioner),
            (Operation.ALTER, Operation.DESCRIBE),
            ResourceType.CLUSTER,
            "kafka-cluster",
        )
    for service in services:
        bindings += service_acls(service)
    return bindings


async def grant_platform_access(
    admin_options: Mapping[str, Any],
    services: Mapping[str, str],
    provisioner: PlatformUser | None,
    *,
    mechanism: str = "SCRAM-SHA-512",
) -> list[AclBinding]:
    """As a super user (``admin_options``: its aiokafka connection), create or update the SCRAM
    user of each service (service name → password) and of the provisioner, and add their ACLs.
    Idempotent: the users get the same passwords again, an ACL that exists changes nothing.
    Returns the ACLs it holds to."""
    unknown = sorted(set(services) - set(SERVICE_TOPICS))
    if unknown:
        raise ValueError(f"no ACLs known for {unknown} (shared.messaging.provisioning)")
    admin = AIOKafkaAdminClient(**admin_options, client_id="coop-ops-kafka-access")
    await admin.start()
    try:
        users = [PlatformUser(name, password) for name, password in services.items()]
        if provisioner is not None:
            users.insert(0, provisioner)
        for user in users:
            await upsert_scram_user(admin, user.name, user.password, mechanism=mechanism)
        bindings = platform_acls(list(services), provisioner.name if provisioner else None)
        await create_acls(admin, bindings)
        return bindings
    finally:
        await admin.close()


def platform_users_from_environment(
    environ: Mapping[str, str],
) -> tuple[dict[str, str], PlatformUser | None]:
    """The services' passwords from their own variables (``<SERVICE>_KAFKA_SASL_PASSWORD``, the
    user being the service's name), the provisioner from referral's ``KAFKA_PROVISIONING_*``."""
    services: dict[str, str] = {}
    missing = []
    for service in SERVICE_TOPICS:
        prefix = service.upper() + "_KAFKA_SASL_"
        username = environ.get(prefix + "USERNAME") or service
        if username != service:
            # service_acls grants User:<service>: another name would run without its ACLs.
            raise ValueError(f"{prefix}USERNAME={username}: the user must be {service}")
        password = environ.get(prefix + "PASSWORD")
        if not password:
            missing.append(prefix + "PASSWORD")
        else:
            services[service] = password
    if missing:
        raise ValueError("missing: " + ", ".join(missing))
    prefix = PROVISIONING_SERVICE.upper() + "_KAFKA_PROVISIONING_"
    password = environ.get(prefix + "PASSWORD")
    provisioner = None
    if password:
        provisioner = PlatformUser(environ.get(prefix + "USERNAME") or PROVISIONER_USER, password)
    return services, provisioner


async def _kafka_access(args: argparse.Namespace) -> int:
    options = _options(args)
    mechanism = options.get("sasl_mechanism")
    if not mechanism or not options.get("sasl_plain_username"):
        _err.print("KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and _PASSWORD (a super user) needed")
        return 2
    try:
        services, provisioner = platform_users_from_environment(os.environ)
    except ValueError as exc:
        _err.print(str(exc))
        return 2
    with _err.status("creating the SCRAM users and ACLs…"):
        bindings = await grant_platform_access(
            options, services, provisioner, mechanism=str(mechanism)
        )
    users = ([provisioner.name] if provisioner else []) + list(services)
    # Names and counts only: the passwords stay in the environment they came from.
    print(json.dumps({"users": users, "acls": len(bindings), "mechanism": mechanism}))
    return 0


# -- erasure ---------------------------------------------------------------------------------------


async def _erasure_status(args: argparse.Namespace) -> int:
    import httpx

    token = args.token or os.environ.get("COOP_OPS_TOKEN")
    if not token:
        _err.print("--token or COOP_OPS_TOKEN (an ops token) required")
        return 2
    url = f"{args.url.rstrip('/')}/v1/erasure-requests/{args.erasure_id}"
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + args.wait
    async with httpx.AsyncClient(timeout=30) as client:
        with _progress() as progress:
            task = progress.add_task(f"erasure {args.erasure_id}", total=None)
            while True:
                response = await client.get(url, headers=headers)
                if response.status_code != 200:
                    _err.print(f"{response.status_code}: {response.text}")
                    return 1
                body = response.json()
                services = body.get("services", [])
                done = sum(1 for s in services if s.get("status") == "completed")
                progress.update(task, total=len(services) or None, completed=done)
                if body.get("status") == "completed" or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(1.0)
    print(json.dumps(body, ensure_ascii=False))
    return 0 if body.get("status") == "completed" else 3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coop-ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="default: KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092")
    sub = parser.add_subparsers(dest="command", required=True)
    lag = sub.add_parser("lag", help="consumer lag per group, topic and partition")
    lag.add_argument("--group", action="append", help="a consumer group (default: all)")
    lag.add_argument("--json", action="store_true", help="one JSON object per partition")
    replay = sub.add_parser("replay", help="send dead letters back to their original topic")
    replay.add_argument("--topic", required=True)
    replay.add_argument("--offset", type=int, action="append")
    replay.add_argument("--all", action="store_true")
    status = sub.add_parser("outbox-status", help="what waits in a service's outbox")
    status.add_argument("--database-url", required=True)
    redrive = sub.add_parser("outbox-redrive", help="publish published events again (backfill)")
    redrive.add_argument("--database-url", required=True)
    redrive.add_argument("--topic")
    redrive.add_argument("--since", help="ISO time, events that occurred at or after it")
    redrive.add_argument("--until", help="ISO time, events that occurred before it")
    redrive.add_argument("--dry-run", action="store_true")
    creds = sub.add_parser("network-credentials", help="give a network a new SCRAM password")
    creds.add_argument("network")
    sub.add_parser(
        "kafka-access", help="the services' and the provisioner's SCRAM users and ACLs (admin)"
    )
    erasure = sub.add_parser("erasure-status", help="an erasure request, service by service")
    erasure.add_argument("erasure_id")
    erasure.add_argument("--url", required=True, help="the referral service's base URL")
    erasure.add_argument("--token", help="an ops token (default: COOP_OPS_TOKEN)")
    erasure.add_argument("--wait", type=float, default=0.0, help="seconds to wait for completion")
    args = parser.parse_args(argv)
    if args.command == "replay" and not (args.all or args.offset):
        parser.error("replay needs --offset N or --all")
    commands = {
        "lag": _lag,
        "replay": _replay,
        "outbox-status": _outbox_status,
        "outbox-redrive": _outbox_redrive,
        "network-credentials": _network_credentials,
        "kafka-access": _kafka_access,
        "erasure-status": _erasure_status,
    }
    sys.exit(asyncio.run(commands[args.command](args)))


if __name__ == "__main__":
    main()

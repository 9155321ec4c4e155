"""The agency side of the contract: follow the feed, send answers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts import agency
from shared.contracts.topics import agency_feed, agency_responses
from shared.envelope import CloudEvent
from shared.messaging.kafka import connection_options

#: Answer name (command line, scenario files) → contract model, from the contract's one table of
#: answer types (:data:`shared.contracts.agency.ANSWER_TYPES`).
ANSWERS: dict[str, type[agency.AgencyResponse]] = {
    answer.cli_name: answer.model for answer in agency.ANSWER_TYPES
}


@dataclass
class Connection:
    bootstrap_servers: str
    network_id: str
    sasl_username: str | None = None
    sasl_password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The platform's brokers use SCRAM-SHA-512 (docs/adr/0008-kafka-security.md).
    sasl_mechanism: str = "SCRAM-SHA-512"
    #: CA bundle of the brokers: TLS (SASL_SSL) when given.
    ssl_cafile: str | None = None

    def options(self) -> dict[str, Any]:
        if not self.sasl_username:
            return {"bootstrap_servers": self.bootstrap_servers, **self.extra}
        options = connection_options(
            self.bootstrap_servers,
            security_protocol="SASL_SSL" if self.ssl_cafile else "SASL_PLAINTEXT",
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password=self.sasl_password,
            ssl_cafile=self.ssl_cafile,
        )
        return options | self.extra


@dataclass(frozen=True)
class FeedItem:
    event: CloudEvent
    partition: int
    offset: int


class AgencyClient:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.feed_topic = agency_feed(connection.network_id).name
        self.responses_topic = agency_responses(connection.network_id).name
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> AgencyClient:
        self._producer = AIOKafkaProducer(
            **self.connection.options(), enable_idempotence=True, acks="all"
        )
        await self._producer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def answer(self, kind: str, fields: dict[str, Any]) -> CloudEvent:
        """Validate an answer against the contract and send it, keyed by the referral id."""
        model = ANSWERS[kind]
        values = {"occurred_at": datetime.now(UTC).isoformat(), **fields}
        data = model.model_validate(values)
        event = CloudEvent(
            type=model.event_type,
            source=f"/agencies/{self.connection.network_id}",
            subject=f"referrals/{data.referral_id}",
            data=data.model_dump(mode="json", exclude_none=True),
        )
        value, headers = event.to_kafka()
        assert self._producer is not None, "use `async with AgencyClient(...)`"
        await self._producer.send_and_wait(
            self.responses_topic, value=value, key=str(data.referral_id).encode(), headers=headers
        )
        return event

    async def follow(
        self, *, group: str | None = None, from_beginning: bool = True
    ) -> AsyncIterator[FeedItem]:
        """Yield feed events as they arrive; offsets are committed after each one is yielded."""
        consumer = AIOKafkaConsumer(
            self.feed_topic,
            **self.connection.options(),
            group_id=group or f"agency.{self.connection.network_id}.erp",
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        event = CloudEvent.from_kafka(record.value, record.headers)
                        yield FeedItem(event, record.partition, record.offset)
                        await consumer.commit({tp: record.offset + 1})
        finally:
            await consumer.stop()

    async def wait_for_referral(
        self,
        timeout: float,
        *,
        group: str | None = None,
        rome_code: str | None = None,
        referral_id: str | None = None,
    ) -> CloudEvent:
        """The next referral received on the feed (optionally a given one, or for a ROME code)."""
        async with asyncio.timeout(timeout):
            async for item in self.follow(group=group):
                data = item.event.data
                if (
                    item.event.type == "coop.agency.referral_received.v1"
                    and (rome_code is None or data.get("rome_code") == rome_code)
                    and (referral_id is None or data.get("referral_id") == referral_id)
                ):
                    return item.event
        raise TimeoutError  # pragma: no cover - the timeout context raises first


def describe(event: CloudEvent) -> str:
    """One readable line for a person following the feed."""
    data = event.data
    referral = data.get("referral_id")
    if event.type == "coop.agency.referral_received.v1":
        candidate = data.get("candidate") or {}
        who = (
            f"{candidate.get('first_name', '')} {candidate.get('last_name', '')}".strip()
            if data.get("identity_shared")
            else "(identité non partagée)"
        )
        return (
            f"[orientation] {referral} agence={data.get('agency_id')} "
            f"métier={data.get('rome_code')} candidat={who} message={data.get('message')!r}"
        )
    if event.type == "coop.agency.candidate_identity_withdrawn.v1":
        return (
            f"[consentement retiré] {referral} : supprimez {', '.join(data.get('withdrawn', []))}"
            " du candidat"
        )
    if event.type == "coop.agency.erasure_requested.v1":
        referrals = ", ".join(str(r) for r in data.get("referral_ids", []))
        return f"[effacement] supprimez tout ce que vous détenez du candidat de : {referrals}"
    return f"[{event.type}] {referral} {json.dumps(data, ensure_ascii=False)}"


class CandidateStore:
    """What an ERP holds of the candidates the platform shared with it, kept as the feed says:
    identity from ``referral_received`` (with consent) or ``candidate_identity_shared``; deleted
    on ``candidate_identity_withdrawn`` (RQTH alone, or all) and ``erasure_requested`` (every
    referral it names). A real ERP applies the same rules to its own database."""

    def __init__(self) -> None:
        self.candidates: dict[str, dict[str, Any]] = {}

    def apply(self, event: CloudEvent) -> list[str]:
        """Apply one feed event; the referral ids whose candidate data was deleted."""
        data = event.data
        referral = str(data.get("referral_id"))
        if event.type in (
            "coop.agency.referral_received.v1",
            "coop.agency.candidate_identity_shared.v1",
        ):
            if data.get("candidate"):
                self.candidates[referral] = dict(data["candidate"])
            return []
        if event.type == "coop.agency.candidate_identity_withdrawn.v1":
            if referral not in self.candidates:
                return []
            if "identity" in data.get("withdrawn", []):
                del self.candidates[referral]
            else:
                self.candidates[referral].pop("rqth", None)
            return [referral]
        if event.type == "coop.agency.erasure_requested.v1":
            erased = [str(r) for r in data.get("referral_ids", []) if str(r) in self.candidates]
            for referral_id in erased:
                del self.candidates[referral_id]
            return erased
        return []


def new_referral_id() -> str:  # for examples and tests
    return str(uuid.uuid4())

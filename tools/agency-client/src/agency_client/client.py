"""The agency side of the contract: follow the feed, send answers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts import agency, agency_requests
from shared.contracts.topics import agency_feed, agency_responses
from shared.envelope import CloudEvent
from shared.messaging.kafka import connection_options

#: Answer name (command line, scenario files) → contract model, from the contract's one table of
#: answer types (:data:`shared.contracts.agency.ANSWER_TYPES`).
ANSWERS: dict[str, type[agency.AgencyResponse]] = {
    answer.cli_name: answer.model for answer in agency.ANSWER_TYPES
}
#: What an agency may ask besides answering (a POEI: ``training``), from the contract's table
#: (:data:`shared.contracts.agency_requests.REQUEST_TYPES`); sent the same way.
ANSWERS.update({request.cli_name: request.model for request in agency_requests.REQUEST_TYPES})


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


def _fr_date(value: Any) -> str:
    """``2026-03-09`` → ``09/03/2026`` (a date or a timestamp of the feed)."""
    text = str(value or "")
    return f"{text[8:10]}/{text[5:7]}/{text[0:4]}" if len(text) >= 10 else text


def _received(data: dict[str, Any]) -> str:
    candidate = data.get("candidate") or {}
    who = (
        f"{candidate.get('first_name', '')} {candidate.get('last_name', '')}".strip()
        if data.get("identity_shared")
        else "(identité non partagée)"
    )
    metier = data.get("rome_code")
    if data.get("rome_label"):
        metier = f"{data['rome_label']} ({metier})"
    return (
        f"[orientation] {data.get('referral_id')} agence={data.get('agency_id')} "
        f"métier={metier} candidat={who} message={data.get('message')!r}"
    )


def _yes(value: Any, yes: str, no: str) -> str:
    return yes if value else no


#: What a person following the feed reads of each event type: one French line per event. Every
#: event type of ``agency.<network>.feed`` has its entry (``tests/test_agency_client.py``); an
#: unknown type (a newer contract) is still printed, raw.
FEED_LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "coop.agency.referral_received.v1": _received,
    "coop.agency.referral_withdrawn.v1": lambda d: (
        f"[orientation retirée] {d['referral_id']} le {_fr_date(d.get('withdrawn_at'))} : "
        f"{d.get('reason')} — ne donnez plus suite"
    ),
    "coop.agency.referral_expired.v1": lambda d: (
        f"[orientation expirée] {d['referral_id']} le {_fr_date(d.get('expired_at'))}, sans "
        "réponse dans le délai"
    ),
    "coop.agency.candidate_identity_shared.v1": lambda d: (
        f"[identité partagée] {d['referral_id']} : "
        f"{(d.get('candidate') or {}).get('first_name', '')} "
        f"{(d.get('candidate') or {}).get('last_name', '')}".rstrip()
    ),
    "coop.agency.candidate_identity_withdrawn.v1": lambda d: (
        f"[consentement retiré] {d['referral_id']} : supprimez "
        f"{', '.join(d.get('withdrawn', []))} du candidat"
    ),
    "coop.agency.erasure_requested.v1": lambda d: (
        "[effacement] supprimez tout ce que vous détenez du candidat de : "
        + ", ".join(str(r) for r in d.get("referral_ids", []))
    ),
    "coop.agency.immersion_rejected.v1": lambda d: (
        f"[immersion refusée] {d['referral_id']} : {d.get('reason')}"
        + (f" ({d['article']})" if d.get("article") else "")
    ),
    "coop.agency.immersion_progressed.v1": lambda d: (
        f"[immersion] {d['referral_id']} : {d.get('label')}"
        + (f" — {d['host_name']}" if d.get("host_name") else "")
    ),
    "coop.agency.immersion_validated.v1": lambda d: (
        f"[immersion validée] {d['referral_id']} chez {d.get('host_name')} du "
        f"{_fr_date(d.get('start_date'))} au {_fr_date(d.get('end_date'))}"
    ),
    "coop.agency.immersion_cancelled.v1": lambda d: (
        f"[immersion {_yes(d.get('deprecated'), 'obsolète', 'annulée')}] {d['referral_id']} : "
        f"{d.get('justification')}"
    ),
    "coop.agency.immersion_completed.v1": lambda d: (
        f"[immersion terminée] {d['referral_id']} : objectifs "
        f"{_yes(d.get('objectives_reached'), 'atteints', 'non atteints')}, "
        f"{_yes(d.get('hired'), 'embauche', 'pas d’embauche')}"
        + (f" ({d['outcome']})" if d.get("outcome") else "")
        + (f", contrat {d['job_contract_type']}" if d.get("job_contract_type") else "")
    ),
    "coop.agency.mrs_evaluated.v1": lambda d: (
        f"[MRS] {d['referral_id']} : évaluation {_yes(d.get('positive'), 'positive', 'négative')}"
        f" ({d.get('rome_code')})"
        + ("" if d.get("hired") is None else _yes(d.get("hired"), ", recruté", ", non recruté"))
    ),
    "coop.agency.training_enrolled.v1": lambda d: (
        f"[formation] {d['referral_id']} : entrée en {str(d.get('kind', '')).upper()}, "
        f"{d.get('hours')} h du {_fr_date(d.get('start_date'))} au {_fr_date(d.get('end_date'))}"
    ),
    "coop.agency.training_completed.v1": lambda d: (
        f"[formation] {d['referral_id']} : {str(d.get('kind', '')).upper()} "
        f"{_yes(d.get('completed'), 'terminée', 'interrompue')}, "
        f"{_yes(d.get('hired'), 'embauche', 'pas d’embauche')}"
        + (f" ({d['contract_type']})" if d.get("contract_type") else "")
    ),
    # The referral's lifecycle in full (issue 12, the referral service's new feed events).
    "coop.agency.referral_transferred.v1": lambda d: (
        f"[orientation transférée] {d['referral_id']} de {d.get('from_agency_id')} à "
        f"{d.get('agency_id')}"
        + ("" if d.get("identity_shared") else " — identité non partagée avec cette agence")
    ),
    "coop.agency.referral_obsolete.v1": lambda d: (
        f"[orientation sans objet] {d['referral_id']} : {d.get('reason')} — ne donnez plus suite"
    ),
    "coop.agency.referral_reminder.v1": lambda d: (
        f"[relance] {d['referral_id']} : {d.get('message')} (clôture le "
        f"{_fr_date(d.get('closes_at'))})"
    ),
    "coop.agency.referral_closed_no_news.v1": lambda d: (
        f"[orientation clôturée sans nouvelles] {d['referral_id']} le "
        f"{_fr_date(d.get('closed_at'))}"
    ),
    "coop.agency.placement_follow_up.v1": lambda d: (
        f"[suivi à {d.get('milestone_months')} mois] {d['referral_id']} : {d.get('question')}"
    ),
    # The territory (issue 16): hard-to-fill offers pushed to the network, job datings.
    "coop.agency.hard_to_fill_offer_published.v1": lambda d: (
        f"[offre en tension] {d['offer_id']} : {d.get('title')}"
        f" ({d.get('rome_label') or d.get('rome_code')}),"
        f" {d.get('posts')} poste(s), département {d.get('departement')} — agences concernées :"
        f" {', '.join(d.get('agency_ids') or []) or 'aucune'}"
        " ; répondez par coop.agency.offer_answered.v1"
    ),
    "coop.agency.job_dating_invitations.v1": lambda d: (
        f"[job dating] {d['job_dating_id']} : {d.get('title')} le {_fr_date(d.get('starts_at'))},"
        f" {d.get('place')} — {len(d.get('invitations') or [])} candidat(s) invité(s) pour"
        f" {d.get('agency_id')}"
    ),
}


def describe(event: CloudEvent) -> str:
    """One readable line for a person following the feed."""
    line = FEED_LINES.get(event.type)
    if line is not None:
        return line(event.data)
    referral = event.data.get("referral_id")
    return f"[{event.type}] {referral} {json.dumps(event.data, ensure_ascii=False)}"


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

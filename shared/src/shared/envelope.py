"""CloudEvents 1.0 in Kafka binary content mode.

The record value is the event's ``data`` as JSON; the context attributes travel as ``ce_*``
headers, ``content-type`` says how to read the value, and ``traceparent`` carries W3C trace
context. The record key is the aggregate id so that one aggregate's events stay ordered in one
partition.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A record that is not a readable CloudEvent: it can never succeed, so it is dead-lettered."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One event: context attributes plus JSON data, independent of any transport."""

    type: str
    source: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    traceparent: str | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)

    def to_kafka(self) -> tuple[bytes, Headers]:
        """Return the record value and headers (binary content mode)."""
        headers: Headers = [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", format_time(self.time).encode()),
            ("content-type", JSON_CONTENT_TYPE.encode()),
        ]
        if self.subject:
            headers.append(("ce_subject", self.subject.encode()))
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        headers.extend((f"ce_{name}", value.encode()) for name, value in self.extensions.items())
        value = json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode()
        return value, headers

    @classmethod
    def from_kafka(cls, value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> CloudEvent:
        """Read a binary-mode record; raise :class:`EnvelopeError` saying what is wrong."""
        attrs = decode_headers(headers)
        spec = attrs.get("ce_specversion")
        if spec is None:
            raise EnvelopeError("en-tête ce_specversion manquant (CloudEvents 1.0, mode binaire)")
        if spec != SPEC_VERSION:
            raise EnvelopeError(
                f"ce_specversion {spec!r} non pris en charge : {SPEC_VERSION} attendu"
            )
        missing = [h for h in ("ce_id", "ce_source", "ce_type") if not attrs.get(h)]
        if missing:
            raise EnvelopeError(f"en-tête(s) manquant(s) : {', '.join(missing)}")
        content_type = attrs.get("content-type", JSON_CONTENT_TYPE)
        if content_type.split(";")[0].strip().lower() != JSON_CONTENT_TYPE:
            raise EnvelopeError(
                f"content-type {content_type!r} non pris en charge : {JSON_CONTENT_TYPE} attendu"
            )
        if value is None:
            raise EnvelopeError("enregistrement sans valeur : le corps JSON de l'événement manque")
        try:
            data = json.loads(value)
        except UnicodeDecodeError as exc:
            raise EnvelopeError("la valeur n'est pas du texte UTF-8") from exc
        except json.JSONDecodeError as exc:
            raise EnvelopeError(
                f"la valeur n'est pas du JSON (ligne {exc.lineno}, colonne {exc.colno})"
            ) from exc
        if not isinstance(data, dict):
            raise EnvelopeError("la valeur doit être un objet JSON")
        time_header = attrs.get("ce_time")
        try:
            time = parse_time(time_header) if time_header else datetime.now(UTC)
        except ValueError as exc:
            raise EnvelopeError(f"ce_time n'est pas une date RFC 3339 : {time_header!r}") from exc
        known = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"}
        extensions = {
            name[3:]: text
            for name, text in attrs.items()
            if name.startswith("ce_") and name not in known
        }
        return cls(
            type=attrs["ce_type"],
            source=attrs["ce_source"],
            id=attrs["ce_id"],
            time=time,
            subject=attrs.get("ce_subject"),
            traceparent=attrs.get("traceparent"),
            data=data,
            extensions=extensions,
        )


def decode_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Kafka headers as text; a header that is not UTF-8 makes the envelope unreadable."""
    decoded: dict[str, str] = {}
    for name, raw in headers or ():
        try:
            decoded[name] = (raw or b"").decode()
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"l'en-tête {name!r} n'est pas en UTF-8") from exc
    return decoded


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time without offset")
    return moment

"""CloudEvents binary mode: what goes out comes back, and unreadable records say why."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from shared.envelope import CloudEvent, EnvelopeError


def _headers(event: CloudEvent) -> dict[str, bytes]:
    return dict(event.to_kafka()[1])


def test_event_round_trips_through_kafka_value_and_headers() -> None:
    event = CloudEvent(
        type="coop.referral.sent.v1",
        source="/coop/referral",
        subject="referrals/42",
        data={"referral_id": "42", "libellé": "Soudeur / Soudeuse"},
        time=datetime(2026, 3, 4, 10, 30, tzinfo=UTC),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    value, headers = event.to_kafka()
    assert json.loads(value) == event.data
    assert CloudEvent.from_kafka(value, headers) == event


def test_headers_follow_the_kafka_binary_binding() -> None:
    headers = _headers(CloudEvent(type="t.v1", source="/s", data={}, subject="x"))
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_time"].endswith(b"Z")
    assert {"ce_id", "ce_source", "ce_type", "ce_subject"} <= headers.keys()


@pytest.mark.parametrize(
    ("value", "drop", "message"),
    [
        (b"{}", "ce_specversion", "en-tête ce_specversion manquant"),
        (b"{}", "ce_type", "en-tête(s) manquant(s) : ce_type"),
        (b"not json", None, "la valeur n'est pas du JSON"),
        (b"[1, 2]", None, "la valeur doit être un objet JSON"),
        (None, None, "enregistrement sans valeur"),
    ],
)
def test_unreadable_records_are_refused_with_the_reason(
    value: bytes | None, drop: str | None, message: str
) -> None:
    _, headers = CloudEvent(type="t.v1", source="/s", data={}).to_kafka()
    headers = [(name, raw) for name, raw in headers if name != drop]
    with pytest.raises(EnvelopeError, match=re.escape(message)):
        CloudEvent.from_kafka(value, headers)


def test_other_spec_versions_and_content_types_are_refused() -> None:
    value, headers = CloudEvent(type="t.v1", source="/s", data={}).to_kafka()
    wrong_version = [(n, b"0.3" if n == "ce_specversion" else r) for n, r in headers]
    with pytest.raises(EnvelopeError, match="non pris en charge"):
        CloudEvent.from_kafka(value, wrong_version)
    wrong_type = [(n, b"application/avro" if n == "content-type" else r) for n, r in headers]
    with pytest.raises(EnvelopeError, match=r"content-type .* non pris en charge"):
        CloudEvent.from_kafka(value, wrong_type)


def test_unknown_ce_headers_are_kept_as_extensions() -> None:
    value, headers = CloudEvent(type="t.v1", source="/s", data={}).to_kafka()
    event = CloudEvent.from_kafka(value, [*headers, ("ce_partitionkey", b"abc")])
    assert event.extensions == {"partitionkey": "abc"}

"""Event contracts: one model per versioned type, readers ignore unknown fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.contracts import TOPICS, UnknownEventType, declared_event_types, event_model_for
from shared.contracts.referral import ReferralSent
from shared.contracts.topics import TOPIC_TEMPLATES


def test_every_event_type_is_versioned_and_published_on_a_declared_topic() -> None:
    declared = declared_event_types()
    assert declared
    for event_type, model in declared.items():
        assert event_type.rsplit(".", 1)[-1].startswith("v"), event_type
        assert model.topic in TOPICS or model.topic in TOPIC_TEMPLATES, (event_type, model.topic)
        assert model.key_field in model.model_fields, event_type


def test_readers_ignore_fields_added_later_in_the_same_version() -> None:
    data = {
        "referral_id": str(uuid.uuid4()),
        "job_seeker_id": str(uuid.uuid4()),
        "agency_id": "a1",
        "network_id": "n1",
        "rome_code": "H2913",
        "counsellor_id": "c1",
        "sent_at": datetime.now(UTC).isoformat(),
        "a_field_from_the_future": 1,
    }
    event = ReferralSent.model_validate(data)
    assert event.key == data["referral_id"]


def test_unknown_type_or_version_is_reported() -> None:
    with pytest.raises(UnknownEventType):
        event_model_for("coop.referral.sent.v9")


def test_network_topics_are_named_from_the_network_id() -> None:
    from shared.contracts.topics import agency_feed, agency_responses, network_of_responses_topic

    assert agency_feed("interim-nord").name == "agency.interim-nord.feed"
    assert agency_responses("interim-nord").name == "agency.interim-nord.responses"
    assert network_of_responses_topic("agency.interim-nord.responses") == "interim-nord"
    assert network_of_responses_topic("agency.interim-nord.responses.dlq") is None
    assert network_of_responses_topic("referral.events") is None
    with pytest.raises(ValueError, match="invalid network id"):
        agency_feed("Interim Nord")

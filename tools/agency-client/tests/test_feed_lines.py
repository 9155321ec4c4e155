"""The reference client reads every event of the agency feed (issue 12): one French line per
event type of ``agency.<network>.feed``, from the contract's own example data, never the raw
fallback; and it can send every answer and request type of the contract."""

from __future__ import annotations

import pytest

from agency_client.client import ANSWERS, FEED_LINES, describe
from shared.contracts import declared_event_types
from shared.contracts.agency import ANSWER_TYPES
from shared.contracts.agency_requests import REQUEST_TYPES
from shared.contracts.asyncapi import example_data
from shared.contracts.topics import AGENCY_FEED_TOPIC
from shared.envelope import CloudEvent

FEED_TYPES = sorted(t for t, m in declared_event_types().items() if m.topic == AGENCY_FEED_TOPIC)


def test_every_feed_event_type_has_its_line() -> None:
    # (FEED_LINES may already read the lifecycle's feed events of a contract being merged.)
    assert set(FEED_TYPES) <= set(FEED_LINES), set(FEED_TYPES) - set(FEED_LINES)


@pytest.mark.parametrize("event_type", FEED_TYPES)
def test_each_feed_event_reads_as_one_french_line(event_type: str) -> None:
    model = declared_event_types()[event_type]
    event = CloudEvent(type=event_type, source="/referral", data=example_data(model))
    line = describe(event)
    assert line.startswith("[")
    assert not line.startswith("[coop."), line  # not the raw fallback
    assert "\n" not in line


def test_an_unknown_event_type_is_still_printed_raw() -> None:
    event = CloudEvent(type="coop.agency.future.v9", source="/x", data={"referral_id": "r1"})
    assert describe(event).startswith("[coop.agency.future.v9] r1")


def test_every_answer_and_request_type_is_a_command() -> None:
    names = {t.cli_name for t in ANSWER_TYPES} | {t.cli_name for t in REQUEST_TYPES}
    assert set(ANSWERS) == names
    assert ANSWERS["training"].event_type == "coop.agency.training_requested.v1"

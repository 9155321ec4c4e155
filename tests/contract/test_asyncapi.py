"""The AsyncAPI document: valid against the official AsyncAPI 3.0.0 meta-schema, complete (every
event type the code declares), up to date with the code, and served by the services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7
from sqlalchemy import MetaData

from shared.contracts import TOPICS, declared_event_types
from shared.contracts.asyncapi import build_document, render_yaml
from shared.db.tables import platform_tables
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
META_SCHEMA = Path(__file__).parent / "schemas" / "asyncapi-3.0.0.json"
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
DECLARED = declared_event_types()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    schema = json.loads(META_SCHEMA.read_text())
    registry = Registry().with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
    errors = sorted(
        Draft7Validator(schema, registry=registry).iter_errors(document), key=lambda e: e.path
    )
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_meta_schema_catches_a_broken_document(document: dict[str, Any]) -> None:
    schema = json.loads(META_SCHEMA.read_text())
    registry = Registry().with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
    broken = json.loads(json.dumps(document))
    broken["channels"]["referralEvents"]["address"] = 42
    assert list(Draft7Validator(schema, registry=registry).iter_errors(broken))


def test_committed_document_is_up_to_date() -> None:
    assert COMMITTED.read_text() == render_yaml(), (
        "run `make contracts` and commit docs/asyncapi.yaml"
    )


def test_every_event_type_has_a_message_on_its_topic_channel(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    by_type = {m["name"]: name for name, m in messages.items()}
    assert set(DECLARED) <= set(by_type), set(DECLARED) - set(by_type)
    for event_type, model in DECLARED.items():
        message = messages[by_type[event_type]]
        assert message["headers"]["properties"]["ce_type"]["const"] == event_type
        channel = next(c for c in document["channels"].values() if c["address"] == model.topic)
        assert by_type[event_type] in channel["messages"]


def test_every_topic_and_its_dead_letter_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    for name in TOPICS:
        assert {name, name + ".dlq"} <= addresses


def test_examples_validate_against_their_payload_schemas(document: dict[str, Any]) -> None:
    components = {"components": document["components"]}
    for name, message in document["components"]["messages"].items():
        if name == "DeadLetter":
            continue
        schema = {**message["payload"], **components}
        for example in message["examples"]:
            Draft202012Validator(schema).validate(example["payload"])
            model = DECLARED[message["name"]]
            model.model_validate(example["payload"])


async def test_services_serve_the_contract(tmp_path: Path) -> None:
    """Served by every service's operations router (``shared.http.app``)."""
    settings = ServiceSettings(
        service_name="any",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}",
        kafka_enabled=False,
    )
    runtime = ServiceRuntime(settings, tables=platform_tables(MetaData()))
    app = create_service_app(runtime, title="t", description="d", version="0", routers=[])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as client:
        as_yaml = await client.get("/asyncapi.yaml")
        as_json = await client.get("/asyncapi.json")
    await app.state.runtime.stop()
    assert as_yaml.status_code == as_json.status_code == 200
    assert (
        yaml.safe_load(as_yaml.text) == as_json.json() == json.loads(json.dumps(build_document()))
    )


def test_every_event_type_the_services_consume_or_produce_is_in_the_contract() -> None:
    """A service cannot consume a type the contract lacks, nor declare event types of its own
    (every ``EventData`` subclass outside ``shared.contracts`` would be missing from the
    document)."""
    import importlib
    import pkgutil

    import dispositifs
    import notifications
    import referral
    from dispositifs.consumers import consumers as dispositifs_consumers
    from dispositifs.settings import DispositifsSettings
    from notifications.consumers import CONSUMERS as notifications_consumers
    from referral.consumers import consumers as referral_consumers
    from shared.contracts import EVENT_TYPES

    for package in (referral, dispositifs, notifications):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    own = {
        event_type: model.__module__
        for event_type, model in EVENT_TYPES.items()
        if model.__module__.split(".")[0] in {"referral", "dispositifs", "notifications"}
    }
    assert own == {}, f"event types declared outside shared.contracts: {own}"

    settings = DispositifsSettings(database_url="sqlite+aiosqlite://")
    specs = [*referral_consumers(), *dispositifs_consumers(settings), *notifications_consumers]
    consumed = {event_type for spec in specs for event_type in spec.registry.event_types}
    assert consumed
    assert consumed <= set(DECLARED), consumed - set(DECLARED)


def test_every_message_is_described_in_french_and_english(document: dict[str, Any]) -> None:
    from shared.contracts.asyncapi import FRENCH_SUMMARIES

    assert set(FRENCH_SUMMARIES) == set(DECLARED), set(DECLARED) ^ set(FRENCH_SUMMARIES)
    for message in document["components"]["messages"].values():
        if message["title"] == "DeadLetter":
            continue
        assert message["summary"] != message["title"], f"{message['title']} has no docstring"
        assert message["description"].startswith("**FR** — ")
        assert "**EN** — " in message["description"]

"""Fixtures of the notifications tests: a migrated store, a real SMTP server (aiosmtpd) and a
real HTTP receiver on loopback, and the service's app for HTTP calls.

Tiers: ``unit/`` (pure: routing, templates, calendar, backoff), ``service/`` (in-process HTTP,
deliveries to real SMTP and HTTP receivers, the store), ``messaging/`` (the real broker).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import notifications
from devstack.mailbox import Mailbox
from localkafka import free_port
from notifications.access import SYSTEM
from notifications.app import create_app
from notifications.domain.messages import Cause
from notifications.models import Notification
from notifications.settings import NotificationsSettings
from notifications.use_cases import following, messages
from shared.auth.tokens import Role, mint_token
from shared.contracts import EventData
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.settings import DEVELOPMENT_JWT_SECRET

MIGRATIONS = Path(notifications.__file__).parent / "migrations"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    """A real SMTP server on loopback, not started: tests start (and stop) it."""
    box = Mailbox(port=smtp_port)
    yield box
    box.stop()


@pytest.fixture
async def settings(
    new_migrated_database: Callable[[str, Path], Awaitable[str]],
    kafka_bootstrap: str,
    smtp_port: int,
) -> NotificationsSettings:
    return NotificationsSettings(
        database_url=await new_migrated_database("notifications", MIGRATIONS),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_enabled=False,
        jobs_enabled=False,
        log_json=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_timeout_seconds=3,
        webhook_timeout_seconds=1,
        # The test receivers listen on loopback (webhook_targets refuses it unless allowed).
        webhook_allowed_networks=["127.0.0.0/8"],
        delivery_backoff_base_seconds=0.05,
        delivery_backoff_max_seconds=0.2,
        delivery_max_attempts=4,
    )


@pytest.fixture
async def database(settings: NotificationsSettings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.dispose()


async def record_event(database: Database, data: EventData) -> list[Notification]:
    """What the consumer does with an event (without the broker: the consumer tests cover it)."""
    event = CloudEvent(type=data.event_type, source="/test", data=data.model_dump(mode="json"))
    async with database.transaction() as session:
        await following.follow(following.Follow(data), SYSTEM, session)
        cause = Cause.from_event(event, data)
        return await messages.record(messages.RecordMessages(cause), SYSTEM, session)


# -- a real HTTP receiver -------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers with the scripted statuses in order (then 200), recording every request."""

    url: str
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
            status = receiver.next_status()
            if receiver.delay_seconds:
                threading.Event().wait(receiver.delay_seconds)
            payload = b'{"ok": true}' if status < 400 else b'{"error": "scripted"}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/coop"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# -- HTTP -----------------------------------------------------------------------------------------


def token(role: Role, subject: str = "someone", **claims: str) -> dict[str, str]:
    value = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=subject,
        role=role,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {value}"}


OPS = token(Role.OPS, "ops")


@pytest.fixture
async def app(settings: NotificationsSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.runtime.stop()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications.test") as c:
        yield c

"""The three services as real ``uvicorn`` processes, each on its own fresh store, against the
session's real Kafka broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import dispositifs
import notifications
import referral
from devstack.mailbox import Mailbox
from devstack.services import SERVICES, ServiceProcess, run_cli, service_env
from localkafka import free_port
from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import migrated_database

MIGRATIONS = {
    "referral": Path(referral.__file__).parent / "migrations",
    "dispositifs": Path(dispositifs.__file__).parent / "migrations",
    "notifications": Path(notifications.__file__).parent / "migrations",
}


#: A France Travail structure that reviews its conventions in two steps (issue 13: the counsellor
#: pre-validates, another counsellor — the validator — decides); only the signing journey uses it.
TWO_STEP_STRUCTURE = "75102"

#: The counsellor tool's page of a referral, linked from the mails (issue 12).
REFERRAL_URL = "https://outil-conseiller.example/orientations/{referral_id}"


@dataclass
class Stack:
    processes: dict[str, ServiceProcess]
    bootstrap_servers: str

    def url(self, name: str) -> str:
        return self.processes[name].url

    def wait_ready(self, timeout: float = 90) -> None:
        for process in self.processes.values():
            process.wait_ready(timeout)


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on a free loopback port that keeps every mail (the notifications
    service of every stack sends to it)."""
    with Mailbox() as box:
        yield box


@pytest.fixture(scope="module")
async def stack(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> AsyncIterator[Stack]:
    """A fresh stack per test module: stores, consumer groups and processes of its own."""
    work = tmp_path_factory.mktemp("stack")
    processes: dict[str, ServiceProcess] = {}
    for name in SERVICES:
        url = await migrated_database(name, MIGRATIONS[name], work)
        env = service_env(
            name,
            database_url=url,
            bootstrap_servers=kafka_broker.bootstrap_servers,
            extra={"LOG_JSON": "true", "LOG_LEVEL": "INFO"},
        )
        if name == "notifications":
            env["NOTIFICATIONS_SMTP_HOST"] = mailbox.host
            env["NOTIFICATIONS_SMTP_PORT"] = str(mailbox.port)
            env["NOTIFICATIONS_COUNSELLOR_REFERRAL_URL"] = REFERRAL_URL
        if name == "referral":
            # The journeys count single referrals (secrecy: services/referral/tests).
            env["REFERRAL_STATISTICAL_SECRECY_THRESHOLD"] = "1"
            await asyncio.to_thread(run_cli, name, "seed", env)
        if name == "dispositifs":
            # The journeys count single conventions (secrecy: services/dispositifs/tests).
            env["DISPOSITIFS_STATISTICAL_SECRECY_THRESHOLD"] = "1"
            env["DISPOSITIFS_PMSMP_TWO_STEP_REVIEW_STRUCTURES"] = f'["{TWO_STEP_STRUCTURE}"]'
        processes[name] = ServiceProcess(name, free_port(), env, work / f"{name}.log")
    stack = Stack(processes, kafka_broker.bootstrap_servers)
    try:
        for process in processes.values():
            process.start()
        await asyncio.to_thread(stack.wait_ready)
        yield stack
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture(scope="session")
def counsellor_headers() -> dict[str, str]:
    return _headers(Role.COUNSELLOR, ft_structure="75101")


@pytest.fixture(scope="session")
def ops_headers() -> dict[str, str]:
    return _headers(Role.OPS)


def _headers(role: Role, **claims: str) -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=f"e2e-{role.value}",
        role=role,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {token}"}

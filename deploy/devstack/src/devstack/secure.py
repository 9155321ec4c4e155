"""``make up SECURE=1``: the local broker with SASL/SCRAM-SHA-512 over TLS and ACLs, as in
production (docs/adr/0008-kafka-security.md).

Under ``<data-dir>/kafka-secure/`` (never committed): a CA made here with ``openssl`` and the
broker's certificate, the generated passwords (``credentials.json``, mode 600) and the broker's
storage. Each service gets its own SCRAM user and the ACLs of its topics
(:func:`shared.messaging.provisioning.service_acls`); referral also gets the provisioning
principal, with which it creates each network's user and ACLs when the network is onboarded.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from localkafka import LocalKafka
from localkafka.security import MECHANISM, LocalTls, ScramUser, format_args, secured_config
from shared.messaging.ops_cli import PROVISIONER_USER, PlatformUser, grant_platform_access

SERVICE_NAMES = ("referral", "dispositifs", "notifications")
ADMIN_USER = "coop-admin"
__all__ = ["ADMIN_USER", "PROVISIONER_USER", "SERVICE_NAMES", "SecureKafka"]


@dataclass
class SecureKafka:
    """The secured broker's files and credentials under ``directory``."""

    directory: Path
    tls: LocalTls | None
    users: dict[str, ScramUser]

    @classmethod
    def prepare(cls, directory: Path, *, tls: bool = True) -> SecureKafka:
        directory.mkdir(parents=True, exist_ok=True)
        store = directory / "credentials.json"
        if store.is_file():
            saved = json.loads(store.read_text())
        else:  # new passwords for a new broker (its storage is formatted with the admin's)
            names = (ADMIN_USER, PROVISIONER_USER, *SERVICE_NAMES)
            saved = {name: secrets.token_urlsafe(24) for name in names}
            store.write_text(json.dumps(saved, indent=2))
            store.chmod(0o600)
        users = {name: ScramUser(name, password) for name, password in saved.items()}
        return cls(directory, LocalTls.create(directory / "tls") if tls else None, users)

    @property
    def admin(self) -> ScramUser:
        return self.users[ADMIN_USER]

    @property
    def protocol(self) -> str:
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    def broker(self, *, port: int | None = None, controller_port: int | None = None) -> LocalKafka:
        broker = LocalKafka(
            self.directory / "broker",
            port=port,
            controller_port=controller_port,
            format_args=format_args(self.admin),
            probe_client_kwargs=self.admin.client_kwargs(self.tls),
        )
        broker.extra_config.update(
            secured_config(broker.port, broker.controller_port, self.admin, self.tls)
        )
        return broker

    def client_env(self, user: str) -> dict[str, str]:
        """``KAFKA_*`` variables (without a service prefix) to connect as ``user``."""
        env = {
            "KAFKA_SECURITY_PROTOCOL": self.protocol,
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.users[user].password,
        }
        if self.tls is not None:
            env["KAFKA_SSL_CAFILE"] = str(self.tls.ca_cert)
        return env

    def service_env(self, service: str) -> dict[str, str]:
        """The service's own Kafka variables (to prefix with ``<SERVICE>_``)."""
        env = self.client_env(service)
        if service == "referral":
            env["KAFKA_PROVISIONING_USERNAME"] = PROVISIONER_USER
            env["KAFKA_PROVISIONING_PASSWORD"] = self.users[PROVISIONER_USER].password
        return env

    async def provision(self, bootstrap_servers: str) -> None:
        """The services' and the provisioner's SCRAM users and ACLs (idempotent): the same
        function as ``coop-ops kafka-access``, which docker-compose.yml runs."""
        await grant_platform_access(
            {"bootstrap_servers": bootstrap_servers, **self.admin.client_kwargs(self.tls)},
            {name: self.users[name].password for name in SERVICE_NAMES},
            PlatformUser(PROVISIONER_USER, self.users[PROVISIONER_USER].password),
            mechanism=MECHANISM,
        )

    def provision_sync(self, bootstrap_servers: str) -> None:
        asyncio.run(self.provision(bootstrap_servers))

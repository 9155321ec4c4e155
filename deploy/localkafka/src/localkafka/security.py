"""SASL/SCRAM authentication and ACLs (StandardAuthorizer) for the local broker.

Production brokers are configured by their operators; this module gives the local broker the same
shape so that tests can prove what an integration's credentials may and may not do. Credentials
and ACLs are managed with Kafka's own tools (``kafka.admin.ConfigCommand``,
``org.apache.kafka.tools.AclCommand``) run from the Maven-resolved jars, exactly as an operator
would run ``kafka-configs.sh`` and ``kafka-acls.sh``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MECHANISM = "SCRAM-SHA-256"


@dataclass(frozen=True, slots=True)
class ScramUser:
    name: str
    password: str

    @property
    def principal(self) -> str:
        return f"User:{self.name}"

    def client_kwargs(self) -> dict[str, Any]:
        """Connection options for an aiokafka client authenticating as this user."""
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.name,
            "sasl_plain_password": self.password,
        }


def secured_config(port: int, controller_port: int, admin: ScramUser) -> dict[str, str]:
    """``extra_config`` for :class:`LocalKafka`: the client listener speaks SASL/SCRAM, the
    StandardAuthorizer denies what no ACL allows, ``admin`` is the super user.

    The controller listener stays PLAINTEXT on loopback (single node: the broker talks to its own
    controller there), so its ANONYMOUS principal is a super user too.
    """
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{admin.name}" password="{admin.password}";'
    )
    return {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_plaintext.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"{admin.principal};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }


def format_args(admin: ScramUser) -> list[str]:
    """The admin's credential must exist before the broker can authenticate anyone."""
    return ["--add-scram", f"{MECHANISM}=[name={admin.name},password={admin.password}]"]


class KafkaSecurityTools:
    """Creates SCRAM users and ACLs on a running secured broker, as its operator would."""

    def __init__(self, lib: Path, bootstrap_servers: str, admin: ScramUser, work_dir: Path) -> None:
        self._lib = lib
        self._bootstrap = bootstrap_servers
        work_dir.mkdir(parents=True, exist_ok=True)
        self._command_config = work_dir / "admin-client.properties"
        self._command_config.write_text(
            "security.protocol=SASL_PLAINTEXT\n"
            f"sasl.mechanism={MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{admin.name}" password="{admin.password}";\n'
        )

    def add_user(self, user: ScramUser) -> None:
        self._run(
            "kafka.admin.ConfigCommand",
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            user.name,
            "--add-config",
            f"{MECHANISM}=[iterations=4096,password={user.password}]",
        )

    def allow(
        self,
        principal: str,
        operations: Sequence[str],
        *,
        topic: str | None = None,
        group: str | None = None,
        prefixed: bool = False,
    ) -> None:
        """Allow ``principal`` the ``operations`` (Read, Write, Describe…) on a topic or group."""
        args = ["--add", "--allow-principal", principal]
        for operation in operations:
            args += ["--operation", operation]
        if topic is not None:
            args += ["--topic", topic]
        if group is not None:
            args += ["--group", group]
        args += ["--resource-pattern-type", "prefixed" if prefixed else "literal", "--force"]
        self._run("org.apache.kafka.tools.AclCommand", *args)

    def _run(self, main_class: str, *args: str) -> str:
        command = [
            "java",
            "-Xmx256m",
            "-cp",
            f"{self._lib}/*",
            main_class,
            "--bootstrap-server",
            self._bootstrap,
            "--command-config",
            str(self._command_config),
            *args,
        ]
        result = subprocess.run(  # noqa: S603 - fixed Java tools of the Kafka distribution
            command, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{main_class} failed: {result.stdout}\n{result.stderr}")
        return result.stdout

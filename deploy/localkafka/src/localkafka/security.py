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

#: As in production (docs/adr/0008-kafka-security.md).
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True, slots=True)
class ScramUser:
    name: str
    password: str

    @property
    def principal(self) -> str:
        return f"User:{self.name}"

    def client_kwargs(self, tls: LocalTls | None = None) -> dict[str, Any]:
        """Connection options for an aiokafka client authenticating as this user (over TLS,
        verifying the broker against the local CA, when ``tls`` is given)."""
        kwargs: dict[str, Any] = {
            "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.name,
            "sasl_plain_password": self.password,
        }
        if tls is not None:
            from aiokafka.helpers import create_ssl_context

            kwargs["ssl_context"] = create_ssl_context(cafile=str(tls.ca_cert))
        return kwargs


@dataclass(frozen=True, slots=True)
class LocalTls:
    """A CA made on this machine and the broker's certificate it signed (for 127.0.0.1 and
    localhost), PEM files under ``directory`` (``.data/``: never committed)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def broker_pem(self) -> Path:
        """The broker's private key (PKCS#8) followed by its certificate and the CA's."""
        return self.directory / "broker.pem"

    @classmethod
    def create(cls, directory: Path, *, days: int = 30) -> LocalTls:
        """Make the CA and the broker certificate with ``openssl``, unless already there."""
        tls = cls(directory)
        if tls.ca_cert.is_file() and tls.broker_pem.is_file():
            return tls
        directory.mkdir(parents=True, exist_ok=True)
        ca_key, key, csr, cert = (directory / n for n in ("ca.key", "broker.key", "b.csr", "b.crt"))
        ext = directory / "broker.ext"
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        )
        days_arg = str(days)
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(ca_key),
            "-out",
            str(tls.ca_cert),
            "-days",
            days_arg,
            "-subj",
            "/CN=coop-local-ca",
        )
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            "/CN=localhost",
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(tls.ca_cert),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            days_arg,
            "-extfile",
            str(ext),
        )
        pkcs8 = _openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(key))
        tls.broker_pem.write_text(pkcs8 + cert.read_text() + tls.ca_cert.read_text())
        for path in (ca_key, key, csr, tls.broker_pem):
            path.chmod(0o600)
        return tls


def _openssl(*args: str) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["openssl", *args],  # noqa: S607 - the system openssl
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr}")
    return result.stdout


def secured_config(
    port: int, controller_port: int, admin: ScramUser, tls: LocalTls | None = None
) -> dict[str, str]:
    """``extra_config`` for :class:`LocalKafka`: the client listener speaks SASL/SCRAM (over TLS
    when ``tls`` is given), the StandardAuthorizer denies what no ACL allows, ``admin`` is the
    super user.

    The controller listener stays PLAINTEXT on loopback (single node: the broker talks to its own
    controller there), so its ANONYMOUS principal is a super user too.
    """
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{admin.name}" password="{admin.password}";'
    )
    protocol = "SASL_SSL" if tls else "SASL_PLAINTEXT"
    listener = protocol.lower()
    config = {
        "listeners": f"{protocol}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"{protocol}://127.0.0.1:{port}",
        "listener.security.protocol.map": f"{protocol}:{protocol},CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": protocol,
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.{listener}.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"{admin.principal};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
    if tls is not None:
        config |= {
            f"listener.name.{listener}.ssl.keystore.type": "PEM",
            f"listener.name.{listener}.ssl.keystore.location": str(tls.broker_pem),
            f"listener.name.{listener}.ssl.truststore.type": "PEM",
            f"listener.name.{listener}.ssl.truststore.location": str(tls.ca_cert),
            # The broker talks to itself on this listener: it checks its own certificate's name.
            "ssl.endpoint.identification.algorithm": "https",
        }
    return config


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

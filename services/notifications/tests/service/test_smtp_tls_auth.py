"""Production settings of the email channel against a real SMTP server that requires STARTTLS
and authentication (aiosmtpd with a throwaway self-signed certificate for 127.0.0.1)."""

from __future__ import annotations

import ipaddress
import ssl
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from devstack.mailbox import Mailbox
from localkafka import free_port
from notifications.adapters import Outgoing, TransientFailure
from notifications.adapters.smtp import EmailSender
from notifications.settings import NotificationsSettings


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticator(*args: Any) -> AuthResult:
    _server, _session, _envelope, _mechanism, auth_data = args
    ok = auth_data.login == b"notifications" and auth_data.password == b"app-password"
    return AuthResult(success=ok)


def _outgoing() -> Outgoing:
    return Outgoing(
        delivery_id=uuid.uuid4(),
        notification_id=uuid.uuid4(),
        channel="email",
        address="lille@interim-nord.example",
        subject="Nouvelle orientation",
        body="Bonjour,\n\nUne orientation vous attend.",
        attempt=1,
        event_type="coop.referral.sent.v1",
        cause_id="e1",
        kind="referral.new",
        recipient_kind="agency",
        recipient_id="agc-interim-nord-lille",
    )


async def test_starttls_and_authentication_are_used_when_configured(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    box = Mailbox(
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    settings = NotificationsSettings(
        database_url="sqlite+aiosqlite:///unused.db",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=True,
        smtp_username="notifications",
        smtp_password=SecretStr("app-password"),
        smtp_ca_file=str(cert),
        smtp_timeout_seconds=5,
    )
    with box:
        answer = await EmailSender(settings).send(_outgoing())
        assert answer.startswith("accepted")
        [mail] = box.messages
        assert mail.rcpt_tos == ("lille@interim-nord.example",)

        # Configuration trouble is retried (ops fix the settings), never delivered in clear.
        wrong = settings.model_copy(
            update={"smtp_password": SecretStr("wrong"), "smtp_timeout_seconds": 2}
        )
        with pytest.raises(TransientFailure):
            await EmailSender(wrong).send(_outgoing())
        plain = settings.model_copy(update={"smtp_starttls": False, "smtp_username": None})
        with pytest.raises(TransientFailure):
            await EmailSender(plain).send(_outgoing())
        assert len(box.messages) == 1

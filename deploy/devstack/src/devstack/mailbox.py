"""A local SMTP server that keeps every mail it receives, so mails can be read: ``make up`` runs
it on 127.0.0.1:1025 and writes each mail to ``.data/mail/`` as an ``.eml`` file; the tests read
them from memory (:attr:`Mailbox.messages`).

aiosmtpd runs in a thread of its own with its own event loop, so the mailbox can be used from
synchronous code and from any test's event loop alike. Loopback only: it is not a relay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from localkafka import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    received_at: datetime

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""  # type: ignore[union-attr]
        return str(text).replace("\r\n", "\n")

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return str(value).strip() if value is not None else None


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        message = message_from_bytes(content, policy=policy.default)
        self._mailbox._store(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,  # type: ignore[arg-type]
                received_at=datetime.now(UTC),
            ),
            content,
        )
        return "250 Message accepted for delivery"


class Mailbox:
    """Start with :meth:`start`, stop with :meth:`stop`; restartable on the same port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        directory: Path | None = None,
        **smtp_options: Any,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.directory = directory
        self._smtp_options = smtp_options
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> Mailbox:
        if self._controller is None:
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
            controller = Controller(
                _Handler(self), hostname=self.host, port=self.port, **self._smtp_options
            )
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what was received ---------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def matching(self, predicate: Callable[[ReceivedMail], bool]) -> list[ReceivedMail]:
        return [mail for mail in self.messages if predicate(mail)]

    def wait_for(
        self, predicate: Callable[[ReceivedMail], bool], count: int = 1, timeout: float = 10
    ) -> list[ReceivedMail]:
        """Block until ``count`` mails match (raise TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} mails after {timeout}s")
            time.sleep(0.05)

    def _store(self, mail: ReceivedMail, raw: bytes) -> None:
        with self._lock:
            self._messages.append(mail)
            number = len(self._messages)
        if self.directory is not None:
            stamp = mail.received_at.strftime("%Y%m%dT%H%M%S")
            path = self.directory / f"{stamp}-{number:05d}.eml"
            path.write_bytes(raw)


def main() -> None:
    """``python -m devstack.mailbox [port] [directory]``: run a mailbox until Ctrl-C."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 1025
    directory = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(".data/mail")
    with Mailbox(port=port, directory=directory) as mailbox:
        print(f"SMTP on {mailbox.host}:{mailbox.port}, mails written to {directory}/", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

"""Email over SMTP with the standard library (``smtplib`` in a worker thread).

STARTTLS or implicit TLS and authentication come from the settings. Each mail carries a
``Message-ID`` made of the delivery id, so a receiver can drop the duplicate that an at-least-once
delivery may produce after a crash between the server's "250 OK" and our bookkeeping.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from notifications.adapters.base import Outgoing, PermanentFailure, TransientFailure
from notifications.settings import NotificationsSettings

FOOTER = (
    "\n\n--\nMessage automatique de la plateforme de coopération France Travail – Prism'emploi."
    "\nMerci de ne pas y répondre."
)


class EmailSender:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    def build(self, outgoing: Outgoing) -> EmailMessage:
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = outgoing.address
        message["Subject"] = outgoing.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{outgoing.delivery_id}@{settings.mail_message_id_domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Coop-Message-Id"] = str(outgoing.notification_id)
        message["X-Coop-Event-Type"] = outgoing.event_type
        if outgoing.referral_id is not None:
            message["X-Coop-Referral-Id"] = str(outgoing.referral_id)
        message.set_content(outgoing.body + FOOTER, charset="utf-8")
        return message

    async def send(self, outgoing: Outgoing) -> str:
        message = self.build(outgoing)
        return await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: EmailMessage) -> str:
        settings = self._settings
        context = ssl.create_default_context(cafile=settings.smtp_ca_file)
        try:
            smtp: smtplib.SMTP
            if settings.smtp_ssl:
                smtp = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=settings.smtp_timeout_seconds,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
                )
            with smtp:
                if settings.smtp_starttls and not settings.smtp_ssl:
                    smtp.starttls(context=context)
                if settings.smtp_username:
                    password = settings.smtp_password
                    smtp.login(
                        settings.smtp_username, password.get_secret_value() if password else ""
                    )
                smtp.send_message(message)
                return f"accepted by {settings.smtp_host}:{settings.smtp_port}"
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _reply in exc.recipients.values()]
            detail = "; ".join(
                f"{address}: {code} {_text(reply)}"
                for address, (code, reply) in exc.recipients.items()
            )
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {detail}") from exc
            raise TransientFailure(f"recipient deferred: {detail}") from exc
        except smtplib.SMTPSenderRefused as exc:
            # Our sender or session is refused (530 "STARTTLS first", 535 auth…): configuration,
            # not this message. Retried while ops fix it.
            raise TransientFailure(
                f"sender refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPDataError as exc:
            text = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise PermanentFailure(f"message refused: {text}") from exc
            raise TransientFailure(f"message deferred: {text}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Connection refused, timeout, TLS or authentication trouble: the server or our
            # configuration, not this message. Retry; ops see the error on the delivery.
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply

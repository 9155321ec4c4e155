"""Text messages (SMS), the job seeker's second channel (issue 12, item 8): a pluggable gateway.

No SMS provider is chosen yet, so none is shipped: a provider's adapter implements
:class:`SmsGateway` (its HTTP API, credentials from the settings) and is handed to
:class:`SmsSender` by :func:`notifications.jobs.default_senders`. Until then no rule names the
``sms`` channel, and a delivery on it (a rule added without a gateway) fails permanently with
``no_sms_gateway`` — visible to ops, never a silent drop, never a pretend send.
"""

from __future__ import annotations

from typing import Protocol

from notifications.adapters.base import Outgoing, PermanentFailure

#: A text message's length budget (3 concatenated segments of 153 GSM-7 characters).
MAX_TEXT_LENGTH = 459


class SmsGateway(Protocol):
    """What a provider's adapter does: send ``text`` to the phone number ``to`` (E.164), with
    ``reference`` (the delivery id) for its deduplication; return the provider's message id;
    raise :class:`~notifications.adapters.base.TransientFailure` (busy, timeout) or
    :class:`~notifications.adapters.base.PermanentFailure` (number refused)."""

    async def send_text(self, to: str, text: str, reference: str) -> str: ...


class SmsSender:
    """The ``sms`` channel's sender: the delivery's text (the rendered body, cut to the budget)
    through the configured gateway."""

    def __init__(self, gateway: SmsGateway | None) -> None:
        self.gateway = gateway

    async def send(self, outgoing: Outgoing) -> str:
        if self.gateway is None:
            raise PermanentFailure("no_sms_gateway: no SMS provider is configured")
        text = outgoing.body
        if len(text) > MAX_TEXT_LENGTH:
            text = text[: MAX_TEXT_LENGTH - 1] + "…"
        provider_id = await self.gateway.send_text(
            outgoing.address, text, str(outgoing.delivery_id)
        )
        return f"sms accepted: {provider_id}"

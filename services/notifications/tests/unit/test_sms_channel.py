"""The job seeker's SMS channel (issue 12, item 8) is pluggable: without a provider's gateway a
delivery on it fails permanently with its reason (never a silent drop, never a pretend send); a
gateway plugged in receives the number, the text within its budget and the delivery id."""

from __future__ import annotations

import uuid

import pytest

from notifications.adapters import Outgoing, PermanentFailure
from notifications.adapters.sms import MAX_TEXT_LENGTH, SmsSender
from notifications.domain.delivery import Channel
from notifications.jobs import default_senders
from notifications.settings import NotificationsSettings


def _outgoing(body: str) -> Outgoing:
    return Outgoing(
        delivery_id=uuid.uuid4(),
        notification_id=uuid.uuid4(),
        channel="sms",
        address="+33612345678",
        subject="Votre candidature",
        body=body,
        attempt=1,
        event_type="coop.referral.status_changed.v1",
        cause_id="cause",
        kind="job_seeker.referral",
        recipient_kind="job_seeker",
        recipient_id=str(uuid.uuid4()),
    )


class _ProviderAdapter:
    """What a provider's adapter is to the sender (an :class:`SmsGateway`): it keeps what it was
    asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send_text(self, to: str, text: str, reference: str) -> str:
        self.sent.append((to, text, reference))
        return "prov-1"


async def test_without_a_gateway_the_sms_channel_fails_permanently_with_its_reason() -> None:
    sender = default_senders(NotificationsSettings(kafka_enabled=False))[Channel.SMS]
    with pytest.raises(PermanentFailure, match="no_sms_gateway"):
        await sender.send(_outgoing("Bonjour"))


async def test_a_gateway_gets_the_number_the_text_within_its_budget_and_the_delivery_id() -> None:
    gateway = _ProviderAdapter()
    sender = SmsSender(gateway)
    short = _outgoing("L'agence retient votre candidature.")
    assert await sender.send(short) == "sms accepted: prov-1"
    long = _outgoing("x" * (MAX_TEXT_LENGTH + 50))
    await sender.send(long)
    (to, text, reference), (_, cut, _) = gateway.sent
    assert (to, text, reference) == (
        "+33612345678",
        "L'agence retient votre candidature.",
        str(short.delivery_id),
    )
    assert len(cut) == MAX_TEXT_LENGTH
    assert cut.endswith("…")

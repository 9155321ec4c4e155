"""A delivery: one message on one channel. Its channels, its statuses and the moves between them,
the retry delay, and how a new delivery starts (pending, or skipped and why).

The values are those stored in ``deliveries.status`` / ``deliveries.channel`` and published in
``coop.notification.*.v1`` (``channel``): renaming a member never changes its value.
"""

from __future__ import annotations

import enum
import random


class Channel(enum.StrEnum):
    """How a recipient is told. Each has a sender in :mod:`notifications.adapters`."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    #: The in-app message list of counsellor tools (``GET /v1/inbox``). The stored value (and
    #: the one in routing.toml, templates ``*.inbox.j2``, preferences and events) is "inbox".
    IN_APP = "inbox"


CHANNELS: tuple[str, ...] = tuple(channel.value for channel in Channel)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


DELIVERY_STATUSES: tuple[str, ...] = tuple(status.value for status in DeliveryStatus)


class AttemptOutcome(enum.StrEnum):
    """What one try gave (``delivery_attempts.outcome``)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


#: Why a delivery was recorded but will not be attempted (``last_error`` of a skipped delivery).
NO_ADDRESS = "no_address: nothing on file for this channel"
OPTED_OUT = "opted_out: the recipient opted out of this channel or kind of message"


def first_status(
    address: str | None, *, required: bool, opted_out: bool
) -> tuple[DeliveryStatus, str | None]:
    """How a new delivery starts: pending, or skipped with the reason (no address, opted out;
    a message required by the process ignores preferences)."""
    if address is None:
        return DeliveryStatus.SKIPPED, NO_ADDRESS
    if not required and opted_out:
        return DeliveryStatus.SKIPPED, OPTED_OUT
    return DeliveryStatus.PENDING, None


def final_outcome(outcome: AttemptOutcome, *, attempt: int, max_attempts: int) -> AttemptOutcome:
    """A try to retry after the last allowed attempt fails the delivery."""
    if outcome is AttemptOutcome.RETRY and attempt >= max_attempts:
        return AttemptOutcome.FAILED
    return outcome


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before the try after ``attempt`` (1-based): exponential, capped, "equal jitter".

    Half the exponential step is fixed and half is random, so retries of many deliveries that
    failed together (a mail server outage) spread out, and none comes back too soon.
    """
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)

"""A delivery: one message on one channel. Its channels, its statuses and the moves between them
(:data:`DELIVERY_LIFECYCLE`, refused by :func:`check_transition`), the retry delay, and how a new
delivery starts (pending, or skipped and why).

The values are those stored in ``deliveries.status`` / ``deliveries.channel`` and published in
``coop.notification.*.v1`` (``channel``): renaming a member never changes its value.
"""

from __future__ import annotations

import enum
import random

from shared.domain.errors import Conflict
from shared.domain.transitions import Transition, TransitionTable


class Channel(enum.StrEnum):
    """How a recipient is told. Each has a sender in :mod:`notifications.adapters`."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    #: The in-app message list of counsellor tools (``GET /v1/inbox``). The stored value (and
    #: the one in routing.toml, templates ``*.inbox.j2``, preferences and events) is "inbox".
    IN_APP = "inbox"
    #: Text messages to a job seeker's phone: a pluggable gateway (``adapters/sms.py``); no
    #: provider is configured yet, so no rule names it.
    SMS = "sms"


CHANNELS: tuple[str, ...] = tuple(channel.value for channel in Channel)


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    DeliveryStatus.PENDING: "en attente",
    DeliveryStatus.DELIVERED: "remis",
    DeliveryStatus.FAILED: "en échec",
    DeliveryStatus.SKIPPED: "non tenté",
}

DELIVERY_STATUSES: tuple[str, ...] = tuple(status.value for status in DeliveryStatus)


class DeliveryActor(enum.StrEnum):
    """Who moves a delivery."""

    #: The platform itself: the consumer or a reminder records it, the worker sends it.
    SYSTEM = "system"
    OPS = "ops"

    @property
    def label(self) -> str:
        return "la plateforme" if self is DeliveryActor.SYSTEM else "l'exploitation"


class DeliveryAction(enum.StrEnum):
    RECORD = "record"  # a new delivery, to be sent
    SKIP = "skip"  # a new delivery that will not be attempted (no address, opted out)
    CLAIM = "claim"  # the worker takes it for one try (attempts + 1, lease)
    DELIVER = "deliver"
    RESCHEDULE = "reschedule"  # the try failed for now: next one after the backoff
    FAIL = "fail"  # refused for good, or the last allowed try failed
    RETRY = "retry"  # ops put it back in the queue (attempts reset, address re-read)


_PENDING, _SKIPPED, _FAILED = DeliveryStatus.PENDING, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED
_SYSTEM, _OPS = frozenset({DeliveryActor.SYSTEM.value}), frozenset({DeliveryActor.OPS.value})

#: The lifecycle of a delivery, as data.
DELIVERY_LIFECYCLE: TransitionTable[DeliveryStatus] = TransitionTable(
    "Envoi",
    (
        Transition(
            DeliveryAction.RECORD, frozenset({None}), _PENDING, _SYSTEM, "enregistrer l'envoi"
        ),
        Transition(
            DeliveryAction.SKIP, frozenset({None}), _SKIPPED, _SYSTEM, "ne pas tenter l'envoi"
        ),
        Transition(
            DeliveryAction.CLAIM, frozenset({_PENDING}), _PENDING, _SYSTEM, "tenter l'envoi"
        ),
        Transition(
            DeliveryAction.DELIVER,
            frozenset({_PENDING}),
            DeliveryStatus.DELIVERED,
            _SYSTEM,
            "remettre",
        ),
        Transition(
            DeliveryAction.RESCHEDULE,
            frozenset({_PENDING}),
            _PENDING,
            _SYSTEM,
            "reprogrammer un essai",
        ),
        Transition(
            DeliveryAction.FAIL, frozenset({_PENDING}), _FAILED, _SYSTEM, "abandonner l'envoi"
        ),
        Transition(
            DeliveryAction.RETRY, frozenset({_FAILED, _SKIPPED}), _PENDING, _OPS, "relancer"
        ),
    ),
)


def check_transition(
    action: DeliveryAction, current: str | None, actor: DeliveryActor
) -> Transition[DeliveryStatus]:
    """The move ``actor`` may make with ``action`` from ``current``; refused otherwise
    (:class:`~shared.domain.errors.TransitionRefused`, or for an ops retry the API's
    ``delivery-not-retryable`` conflict)."""
    status = DeliveryStatus(current) if current is not None else None
    if action is DeliveryAction.RETRY and DELIVERY_LIFECYCLE.find(action, status) is None:
        raise Conflict(
            f"Seul un envoi en échec ou non tenté peut être relancé (statut : {current}).",
            code="delivery-not-retryable",
        )
    return DELIVERY_LIFECYCLE.check(action, status, actor)


class AttemptOutcome(enum.StrEnum):
    """What one try gave (``delivery_attempts.outcome``)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


#: Why a delivery was recorded but will not be attempted (``last_error`` of a skipped delivery).
NO_ADDRESS = "no_address: nothing on file for this channel"
OPTED_OUT = "opted_out: the recipient opted out of this channel or kind of message"


def first_move(
    address: str | None, *, required: bool, opted_out: bool
) -> tuple[DeliveryAction, str | None]:
    """How a new delivery starts: recorded to be sent, or skipped with the reason (no address,
    opted out; a message required by the process ignores preferences)."""
    if address is None:
        return DeliveryAction.SKIP, NO_ADDRESS
    if not required and opted_out:
        return DeliveryAction.SKIP, OPTED_OUT
    return DeliveryAction.RECORD, None


#: The move that records each final outcome of a try.
OUTCOME_ACTIONS: dict[AttemptOutcome, DeliveryAction] = {
    AttemptOutcome.DELIVERED: DeliveryAction.DELIVER,
    AttemptOutcome.RETRY: DeliveryAction.RESCHEDULE,
    AttemptOutcome.FAILED: DeliveryAction.FAIL,
}


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

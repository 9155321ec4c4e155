"""The channels a delivery goes out on: email (SMTP), webhooks (signed HTTP POST), the inbox.

Each sender takes an :class:`~notifications.channels.base.Outgoing` and either returns what the
other side answered, or raises :class:`~notifications.channels.base.TransientFailure` (try again
later) or :class:`~notifications.channels.base.PermanentFailure` (never going to work).
"""

from notifications.channels.base import Outgoing, PermanentFailure, Sender, TransientFailure

__all__ = ["Outgoing", "PermanentFailure", "Sender", "TransientFailure"]

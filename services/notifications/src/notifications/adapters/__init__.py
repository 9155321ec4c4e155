"""What talks to the outside: the senders of each channel — email (SMTP, :mod:`.smtp`), webhooks
(signed HTTP POST, :mod:`.webhook`, signature in :mod:`.webhook_signature`), the in-app message
list (:mod:`.in_app`).

Each sender takes an :class:`~notifications.adapters.base.Outgoing` and either returns what the
other side answered, or raises :class:`~notifications.adapters.base.TransientFailure` (try again
later) or :class:`~notifications.adapters.base.PermanentFailure` (never going to work).
"""

from notifications.adapters.base import Outgoing, PermanentFailure, Sender, TransientFailure

__all__ = ["Outgoing", "PermanentFailure", "Sender", "TransientFailure"]

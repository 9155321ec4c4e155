"""Per-request and per-event context, carried into logs and outgoing events.

structlog's contextvars hold ``request_id`` / ``event_id`` for log lines; the W3C ``traceparent`` of
the request or event being handled is copied into the events it causes.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)
_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def current_traceparent() -> str | None:
    return _traceparent.get()


def set_traceparent(value: str | None) -> str:
    """Continue the given trace with a new span id, or start a new trace."""
    if value and _TRACEPARENT.match(value):
        trace_id = value.split("-")[1]
    else:
        trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    _traceparent.set(traceparent)
    return traceparent


def use_traceparent(value: str | None) -> Token[str | None]:
    """Make ``value`` (a span's own context) the current one; :func:`reset_traceparent` undoes."""
    return _traceparent.set(value)


def reset_traceparent(token: Token[str | None]) -> None:
    _traceparent.reset(token)

"""Webhooks: an HTTP POST of the stored JSON body, signed with HMAC-SHA256 over the timestamp
and the body (``notifications.adapters.webhook_signature``, documented in docs/notifications.md).

2xx: delivered. 5xx, 408, 429, timeouts and connection errors: retried with backoff. Any other
answer (4xx, and 3xx: redirects are not followed, the URL on file is wrong): failed, no retry.
"""

from __future__ import annotations

import time

import httpx

from notifications.adapters.base import Outgoing, PermanentFailure, TransientFailure
from notifications.adapters.webhook_signature import (
    DELIVERY_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from notifications.settings import NotificationsSettings

RETRIED_CLIENT_ERRORS = frozenset({408, 429})


class WebhookSender:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    def headers(self, outgoing: Outgoing, timestamp: int) -> dict[str, str]:
        if not outgoing.secret:
            raise PermanentFailure("no webhook secret on file for this recipient")
        body = outgoing.body.encode("utf-8")
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "coop-notifications/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(outgoing.secret, timestamp, body),
            DELIVERY_HEADER: str(outgoing.delivery_id),
            EVENT_TYPE_HEADER: outgoing.event_type,
        }

    async def send(self, outgoing: Outgoing) -> str:
        headers = self.headers(outgoing, int(time.time()))
        try:
            async with httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds, follow_redirects=False
            ) as client:
                response = await client.post(
                    outgoing.address, content=outgoing.body.encode("utf-8"), headers=headers
                )
        except httpx.TimeoutException as exc:
            raise TransientFailure(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
        except httpx.InvalidURL as exc:
            raise PermanentFailure(f"invalid URL: {exc}") from exc
        answer = f"HTTP {response.status_code}"
        if response.is_success:
            return answer
        excerpt = response.text[:200]
        if response.status_code >= 500 or response.status_code in RETRIED_CLIENT_ERRORS:
            raise TransientFailure(f"{answer}: {excerpt}")
        raise PermanentFailure(f"{answer}: {excerpt}")

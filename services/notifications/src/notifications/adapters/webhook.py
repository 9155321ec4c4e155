"""Webhooks: an HTTP POST of the stored JSON body, signed with HMAC-SHA256 over the timestamp
and the body (``notifications.adapters.webhook_signature``, documented in docs/notifications.md).

2xx: delivered. 5xx, 408, 429, timeouts and connection errors: retried with backoff. Any other
answer (4xx, and 3xx: redirects are not followed, the URL on file is wrong): failed, no retry.

Before each try the target is checked again (``notifications.adapters.webhook_targets``: https
outside development, public addresses only) and the request goes to the address just checked. What
is recorded of a failure (the delivery's ``last_error``, its attempts) is the status and a short
French reason: never the receiver's answer body, which is the receiver's and may carry anything.
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
from notifications.adapters.webhook_targets import (
    CheckedTarget,
    TargetRules,
    UnresolvedTarget,
    UnsafeTarget,
    check,
)
from notifications.settings import NotificationsSettings

RETRIED_CLIENT_ERRORS = frozenset({408, 429})


class WebhookSender:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._rules = target_rules(settings)

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
            target = await check(outgoing.address, self._rules)
        except UnsafeTarget as exc:
            raise PermanentFailure(str(exc)) from exc
        except UnresolvedTarget as exc:
            raise TransientFailure(str(exc)) from exc
        url, host_header, extensions = pinned(outgoing.address, target)
        try:
            async with httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds, follow_redirects=False
            ) as client:
                response = await client.post(
                    url,
                    content=outgoing.body.encode("utf-8"),
                    headers={**headers, "Host": host_header},
                    extensions=extensions,
                )
        except httpx.TimeoutException as exc:
            raise TransientFailure(
                f"timeout : délai de réponse dépassé ({type(exc).__name__})."
            ) from exc
        except httpx.TransportError as exc:
            raise TransientFailure(f"Récepteur injoignable ({type(exc).__name__}).") from exc
        except httpx.InvalidURL as exc:
            raise PermanentFailure("URL du récepteur invalide.") from exc
        answer = f"HTTP {response.status_code}"
        if response.is_success:
            return answer
        # The body is the receiver's: not recorded, not shown (issue 10).
        if response.status_code >= 500 or response.status_code in RETRIED_CLIENT_ERRORS:
            raise TransientFailure(f"{answer} : le récepteur est indisponible.")
        if 300 <= response.status_code < 400:
            raise PermanentFailure(f"{answer} : redirection non suivie, corriger l'URL.")
        raise PermanentFailure(f"{answer} : le récepteur a refusé l'envoi.")


def target_rules(settings: NotificationsSettings) -> TargetRules:
    return TargetRules.of(
        environment=settings.environment, allowed_networks=settings.webhook_allowed_networks
    )


def pinned(url: str, target: CheckedTarget) -> tuple[httpx.URL, str, dict[str, str]]:
    """The URL with its host replaced by the checked address, the ``Host`` header and, for https,
    the name TLS must present and verify (SNI and certificate): the host name of the URL."""
    original = httpx.URL(url)
    address = target.addresses[0]
    default_port = 443 if target.scheme == "https" else 80
    host_header = original.host if target.port == default_port else f"{original.host}:{target.port}"
    if ":" in original.host:  # an IPv6 literal keeps its brackets in Host
        host_header = host_header.replace(original.host, f"[{original.host}]", 1)
    extensions = {"sni_hostname": original.host} if target.scheme == "https" else {}
    return original.copy_with(host=str(address)), host_header, extensions

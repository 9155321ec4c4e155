"""The webhook signature, as a receiver verifies it (docs/notifications.md shows the same recipe).

    X-Coop-Timestamp: 1767225600
    X-Coop-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>

The receiver recomputes the HMAC over the timestamp header, a dot and the raw body, compares in
constant time, and refuses a timestamp more than 5 minutes away from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Coop-Timestamp"
SIGNATURE_HEADER = "X-Coop-Signature"
DELIVERY_HEADER = "X-Coop-Delivery"
EVENT_TYPE_HEADER = "X-Coop-Event-Type"
SCHEME = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def verify(
    secret: str,
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature_header)

"""Per-caller rate limits: a token bucket per (kind, caller), in the process.

Every write (POST, PUT, PATCH, DELETE) of an authenticated caller takes a token from the caller's
``write`` bucket (``shared.http.security.authenticate`` does it, so no route can forget); a route
that answers a login-like probe (does this France Travail identifier exist?) adds
``dependencies=[ProbeLimit]`` to take from the ``probe`` bucket as well. An empty bucket is a 429
problem with ``Retry-After`` (seconds). Buckets refill continuously at ``rate`` per second up to
``burst``; the caller is the token's role and subject.

In-process: with N replicas a caller gets up to N times the rate, which is still a bound; the
buckets are forgotten on restart. Good enough to stop a runaway script or a probing loop; a shared
store would be needed for an exact quota.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.http.problems import ProblemError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class BucketPolicy:
    #: Tokens added per second.
    rate: float
    #: Most tokens a bucket holds (the burst a caller may send at once).
    burst: int


class RateLimiter:
    """Token buckets keyed by (kind, caller); the least recently used are dropped past
    ``max_callers`` (a dropped bucket comes back full: forgetting errs on the caller's side)."""

    def __init__(
        self,
        policies: dict[str, BucketPolicy],
        *,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policies = policies
        self._max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def take(self, kind: str, caller: str) -> float | None:
        """Take one token; ``None`` if granted, else the seconds to wait for one."""
        policy = self._policies.get(kind)
        if policy is None or policy.rate <= 0:
            return None
        now = self._clock()
        key = (kind, caller)
        tokens, last = self._buckets.pop(key, (float(policy.burst), now))
        tokens = min(float(policy.burst), tokens + (now - last) * policy.rate)
        wait = None
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / policy.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_callers:
            self._buckets.popitem(last=False)
        return wait

    def check(self, kind: str, caller: str) -> None:
        """Take one token or raise the 429 problem."""
        wait = self.take(kind, caller)
        if wait is None:
            return
        seconds = max(1, math.ceil(wait))
        raise ProblemError(
            429,
            "Trop de requêtes",
            f"Trop de requêtes de ce compte en peu de temps ; réessayez dans {seconds} s.",
            problem="rate-limited",
            headers={"Retry-After": str(seconds)},
        )

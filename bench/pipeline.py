"""End to end at fixed rates (issue 14, item 8): ``POST /v1/referrals`` → the agency's notification
stored, on the three real services and the broker, beside a bare pipeline.

- **Project:** POSTs to the real referral service at a fixed rate (open loop: request *i* is sent at
  ``start + i / rate`` whether or not the earlier ones were answered) for a bounded number of
  seconds; a watcher polls the notifications store every ``POLL`` seconds for the referrals'
  agency messages (``notifications`` rows with ``recipient_kind = 'agency'``). The latency of a
  referral is from its scheduled send to the first poll that sees its message (so it includes up
  to one poll interval).
- **Bare pipeline:** the same, through a bare FastAPI endpoint doing one INSERT and one Kafka send
  (``bench.bare_http --publish-topic``) and a bare consumer doing one INSERT per record
  (``bench.bare_consumer``); the message is its row in ``bare_received``.

Kept up means: every request was accepted and every message stored within ``grace`` seconds after
the last request was answered (requests unanswered ``grace`` seconds after the last send count as
refused). The backlog is the referrals accepted whose message is not stored yet,
at the end of the load and after the grace. CPU per referral is the sum of the pipeline's own
processes (the three services; the bare HTTP and consumer), from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.procstat import cpu_seconds

#: Seconds between two polls of the store for stored messages (a latency is measured to the poll
#: that sees the message: up to this much more than the truth, on both sides alike).
POLL = 0.01
#: How far before the earliest request still waiting for its message a poll looks (clock steps,
#: the row's time taken a little before its request's send is recorded).
POLL_MARGIN = 1.0

Seen = Callable[[datetime], Awaitable[set[str]]]


def agency_notifications_seen(engine: AsyncEngine) -> Seen:
    """The project's message: the referral's notification to its agency, in the notifications
    store (``engine``), by referral id."""
    from notifications.models import Notification

    async def seen(since: datetime) -> set[str]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Notification.referral_id).where(
                    Notification.recipient_kind == "agency", Notification.created_at >= since
                )
            )
            return {str(row[0]) for row in rows}

    return seen


def bare_received_seen(engine: AsyncEngine) -> Seen:
    """The bare pipeline's message: the item's row in the bare consumer's store, by item id."""
    from bench.bare_consumer import received

    async def seen(since: datetime) -> set[str]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(received.c.event_id).where(received.c.received_at >= since)
            )
            return {str(row[0]) for row in rows}

    return seen


@dataclass
class RateRun:
    """One pipeline at one rate."""

    rate: float
    seconds: float
    scheduled: int = 0
    accepted: dict[str, float] = field(default_factory=dict)  # id → scheduled send (perf time)
    refused: int = 0  # answered with another status than 201, or the connection failed
    #: Why: the status of each refusal (``"connection"`` when the request failed), counted.
    refusals: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0  # no answer ``grace`` seconds after the last send (cancelled)
    stored: dict[str, float] = field(default_factory=dict)  # id → first seen (perf time)
    #: The POST's own answer time (scheduled send → its 201), ms, per accepted request: the
    #: HTTP side of the end-to-end latency.
    answered_ms: list[float] = field(default_factory=list)
    backlog_at_end: int = 0
    backlog_after_grace: int = 0
    grace: float = 0.0
    cpu: float = 0.0
    #: The CPU seconds of each process, in the order of ``pids``, and their names.
    cpu_parts: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def refuse(self, why: str) -> None:
        self.refused += 1
        self.refusals[why] = self.refusals.get(why, 0) + 1

    @property
    def failures(self) -> int:
        return self.refused + self.unanswered

    def stored_latencies_ms(self) -> list[float]:
        """The latencies of the accepted requests whose message was stored."""
        return sorted(
            (self.stored[key] - sent) * 1000
            for key, sent in self.accepted.items()
            if key in self.stored
        )

    def latencies_ms(self) -> list[float]:
        """Every scheduled request's latency; ``inf`` when refused or never stored in time."""
        done = self.stored_latencies_ms()
        return done + [float("inf")] * (self.scheduled - len(done))

    def percentile(self, q: float, *, stored_only: bool = False) -> float:
        return _quantile(self.stored_latencies_ms() if stored_only else self.latencies_ms(), q)

    @property
    def kept_up(self) -> bool:
        return self.failures == 0 and self.backlog_after_grace == 0 and self.scheduled > 0

    @property
    def cpu_ms_per_referral(self) -> float:
        """Over the referrals that went through: stored, or accepted (a request the bench gave up
        waiting for may still have been created and carried to the end)."""
        return self.cpu * 1000 / self._through

    def describe(self) -> str:
        def cell(value: float) -> str:
            if value == float("inf"):
                return f"> {self.grace:.0f} s"
            return f"{value:,.0f} ms"

        kept = "kept up" if self.kept_up else "did not keep up"
        missed = []
        if self.refused:
            refusals = sorted(self.refusals.items())
            why = ", ".join(f"{count} × {status}" for status, count in refusals)
            missed.append(f"{self.refused} refused: {why}")
        if self.unanswered:
            missed.append(f"{self.unanswered} unanswered {self.grace:.0f} s after the last send")
        return (
            f"p50 / p99 {cell(self.percentile(0.5))} / {cell(self.percentile(0.99))}; {kept}: "
            f"{len(self.accepted)} of {self.scheduled} accepted"
            + (f" ({', '.join(missed)})" if missed else "")
            + f", backlog {self.backlog_at_end} at the end, {self.backlog_after_grace} "
            f"{self.grace:.0f} s after; stored ones p50 / p99 "
            f"{cell(self.percentile(0.5, stored_only=True))} / "
            f"{cell(self.percentile(0.99, stored_only=True))}; "
            f"POST answered p50 / p99 {cell(_quantile(self.answered_ms, 0.5))} / "
            f"{cell(_quantile(self.answered_ms, 0.99))}; "
            f"{self.cpu_ms_per_referral:.1f} ms CPU each ("
            + " + ".join(
                f"{name} {ms:.1f}"
                for name, ms in zip(
                    self.names or [""] * len(self.cpu_parts), self.cpu_ms_by_process, strict=True
                )
            )
            + ")"
        )

    @property
    def cpu_ms_by_process(self) -> list[float]:
        """:attr:`cpu_ms_per_referral` split by process (in the order of ``pids``)."""
        return [cpu * 1000 / self._through for cpu in self.cpu_parts]

    @property
    def _through(self) -> int:
        return max(1, len(set(self.stored) | set(self.accepted)))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("inf")]
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


#: The load's HTTP clients and each one's connections (:func:`load_clients`).
LOAD_CLIENTS = 8
CONNECTIONS_PER_CLIENT = 8


@contextlib.asynccontextmanager
async def load_clients(timeout: float) -> AsyncIterator[list[httpx.AsyncClient]]:
    """The clients a fixed-rate load is sent through, request *i* by client ``i % n``.

    Several small pools rather than one large: httpcore looks at every connection of a pool and
    every request queued on it each time a request starts or ends, so one pool of 64 connections
    cost the driver more CPU per request the more requests were in flight — at 150/s on
    PostgreSQL the bench's own process saturated and its queue, not the services, made the
    latencies (docs/performance.md, stop 29).
    """
    limits = httpx.Limits(
        max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT
    )
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(timeout=timeout, limits=limits))
            for _ in range(LOAD_CLIENTS)
        ]


async def run_at_rate(
    client: httpx.AsyncClient | Sequence[httpx.AsyncClient],
    url: str,
    bodies: list[dict[str, Any]],
    headers: dict[str, str] | list[dict[str, str]],
    *,
    rate: float,
    seconds: float,
    grace: float,
    seen: Seen,
    pids: list[int],
    names: list[str] | None = None,
) -> RateRun:
    """POST ``rate`` bodies a second for ``seconds`` (``headers``: one caller's, or several callers'
    in turn; ``client``: one, or several in turn, :func:`load_clients`); watch the store with
    ``seen`` (the ids whose message is stored, given the load's start time) until everything is
    stored or ``grace`` seconds after the last request."""
    result = RateRun(rate=rate, seconds=seconds, grace=grace, names=list(names or []))
    count = min(len(bodies), max(1, round(rate * seconds)))
    result.scheduled = count
    since = datetime.now(UTC)
    since_perf = time.perf_counter()
    cpu_before = [cpu_seconds(pid) for pid in pids]
    watching = True
    #: Requests sent and not answered yet: i → scheduled send (perf time).
    in_flight: dict[int, float] = {}

    def window() -> datetime:
        """Each poll reads only the rows created since the earliest request still waiting for
        its message (sent, unanswered, or accepted and not seen): a message is created after its
        request is sent, so nothing is missed, and a poll stays cheap however long the run."""
        waiting = [at for key, at in result.accepted.items() if key not in result.stored]
        waiting += in_flight.values()
        earliest = min(waiting, default=time.perf_counter())
        start = since + timedelta(seconds=earliest - since_perf - POLL_MARGIN)
        return max(since, start)

    async def watch() -> None:
        while watching:
            try:
                keys = await seen(window())
            except Exception as exc:  # a busy store: try again at the next poll
                print(f"  ! polling the store: {type(exc).__name__}", flush=True)
                keys = set()
            now = time.perf_counter()
            for key in keys:
                result.stored.setdefault(key, now)
            await asyncio.sleep(POLL)

    clients = [client] if isinstance(client, httpx.AsyncClient) else list(client)

    async def post(i: int, body: dict[str, Any], at: float) -> None:
        own = headers[i % len(headers)] if isinstance(headers, list) else headers
        in_flight[i] = at
        try:
            response = await clients[i % len(clients)].post(
                url, json=body, headers={**own, "Idempotency-Key": str(uuid.uuid4())}
            )
        except httpx.HTTPError:
            result.refuse("connection")
            return
        finally:
            # Out of the in-flight set and into ``accepted`` with no await between: a poll never
            # finds it in neither.
            in_flight.pop(i, None)
        if response.status_code != 201:
            result.refuse(str(response.status_code))
            return
        result.accepted[str(response.json()["id"])] = at
        result.answered_ms.append((time.perf_counter() - at) * 1000)

    watcher = asyncio.create_task(watch())
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    try:
        for i, body in enumerate(bodies[:count]):
            at = start + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(i, body, at)))
        end = start + count / rate
        # The load ends with its last request answered (at most ``grace`` seconds more).
        _, unanswered = await asyncio.wait(tasks, timeout=grace)
        for task in unanswered:
            task.cancel()
        result.unanswered += len(unanswered)
        await asyncio.gather(*unanswered, return_exceptions=True)
        result.backlog_at_end = len(set(result.accepted) - set(result.stored))
        until = max(time.perf_counter(), end) + grace
        while set(result.accepted) - set(result.stored) and time.perf_counter() < until:  # noqa: ASYNC110 - polling the store
            await asyncio.sleep(POLL)
        result.backlog_after_grace = len(set(result.accepted) - set(result.stored))
    finally:
        watching = False
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for task in tasks:
            task.cancel()
    result.cpu_parts = [
        cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)
    ]
    result.cpu = sum(result.cpu_parts)
    return result

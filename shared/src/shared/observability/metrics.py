"""Prometheus metrics of the messaging layer and HTTP, served on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "coop_events_consumed_total",
    "Records handled by a consumer, by outcome (processed, duplicate, ignored, dead_lettered).",
    ["service", "consumer", "topic", "outcome"],
)
EVENT_HANDLING_SECONDS = Histogram(
    "coop_event_handling_seconds",
    "Time to process one record, retries included.",
    ["service", "consumer"],
)
EVENT_RETRIES = Counter(
    "coop_event_retries_total",
    "Handler attempts that failed and were retried.",
    ["service", "consumer"],
)
OUTBOX_PUBLISHED = Counter(
    "coop_outbox_published_total", "Outbox rows published to Kafka.", ["service"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "coop_outbox_publish_failures_total", "Failed outbox publication rounds.", ["service"]
)
OUTBOX_PENDING = Gauge(
    "coop_outbox_pending", "Outbox rows not yet published (as last seen by the relay).", ["service"]
)
CONSUMER_LAG = Gauge(
    "coop_consumer_lag",
    "Records between the consumer's position and the partition's end.",
    ["service", "consumer", "topic", "partition"],
)
HTTP_REQUESTS = Histogram(
    "coop_http_request_seconds",
    "HTTP request duration by route and status.",
    ["service", "method", "route", "status"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "coop_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none waits), as last seen by the relay.",
    ["service"],
)
BACKLOG = Gauge(
    "coop_backlog",
    "Work waiting, by kind (e.g. pending deliveries), as last measured by a readiness probe.",
    ["service", "name"],
)
CONSUMER_BATCHES = Counter(
    "coop_consumer_batches_total",
    "Fetched batches by how they were applied (one transaction, or one by one after an error).",
    ["service", "consumer", "mode"],
)
EVENT_LOOP_LAG = Histogram(
    "coop_event_loop_lag_seconds",
    "How much later than asked a 50 ms timer of the event loop fired (shared.observability."
    "loop_watch): what a request arriving then waits before it starts.",
    ["service"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

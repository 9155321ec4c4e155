"""OpenTelemetry traces across HTTP → outbox → Kafka → consumers (issue 15), off by default.

``<PREFIX>TRACING_EXPORTER``: ``none`` (default: no SDK is set up and :func:`span` returns a
shared no-op context manager, one global read per call), ``otlp`` (OTLP over HTTP to
``<PREFIX>TRACING_OTLP_ENDPOINT``, batched) or ``console`` (one JSON span per line on stdout).

The trace context travels as W3C ``traceparent``: from the HTTP request, into the outbox row
staged while the request's span is current (:func:`shared.observability.context
.current_traceparent`), into the CloudEvent's ``traceparent`` extension on Kafka as the relay's
``publish`` span, and out of it as the parent of the consumer's ``process`` span — one trace from
``POST /v1/referrals`` to the notifications consumer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.observability import context as _context

__all__ = ["SpanKind", "configure_tracing", "disable_tracing", "span", "tracing_enabled"]

_PROPAGATOR = TraceContextTextMapPropagator()
_NOOP: AbstractContextManager[Any] = contextlib.nullcontext()
_tracer: trace.Tracer | None = None


def tracing_enabled() -> bool:
    return _tracer is not None


def configure_tracing(
    service: str,
    exporter_name: str = "none",
    *,
    otlp_endpoint: str | None = None,
    sample_ratio: float = 1.0,
    exporter: Any = None,
) -> bool:
    """Set up the SDK for ``service``; ``exporter`` (a ``SpanExporter``, e.g. the SDK's in-memory
    one in tests) is exported to synchronously. Returns whether tracing is on."""
    global _tracer
    if exporter is None and exporter_name == "none":
        return _tracer is not None  # off, unless the process set it up already (a test)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBasedTraceIdRatio(sample_ratio),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif exporter_name == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    else:
        raise ValueError(f"unknown tracing exporter {exporter_name!r} (none, otlp, console)")
    # Our own provider, not the global one: several services in one test process each keep
    # theirs, and nothing of a library's instrumentation is picked up by surprise.
    _tracer = provider.get_tracer("coop-platform")
    return True


def disable_tracing() -> None:
    global _tracer
    _tracer = None


def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: str | None = None,
    attributes: Mapping[str, str | int] | None = None,
) -> AbstractContextManager[Any]:
    """A span named ``name``, child of the W3C ``parent`` (a ``traceparent``; else the current
    span), current while the block runs; the block's staged events carry its context. Off: a
    no-op yielding None."""
    if _tracer is None:
        return _NOOP
    return _span(_tracer, name, kind, parent, attributes)


@contextlib.contextmanager
def _span(
    tracer: trace.Tracer,
    name: str,
    kind: SpanKind,
    parent: str | None,
    attributes: Mapping[str, str | int] | None,
) -> Iterator[trace.Span]:
    ctx = _PROPAGATOR.extract({"traceparent": parent}) if parent else None
    with tracer.start_as_current_span(
        name, context=ctx, kind=kind, attributes=dict(attributes or {})
    ) as current:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        token = _context.use_traceparent(carrier.get("traceparent"))
        try:
            yield current
        finally:
            _context.reset_traceparent(token)

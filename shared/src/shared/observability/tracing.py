"""OpenTelemetry traces across HTTP → outbox → Kafka → consumers (issue 15), off by default.

``<PREFIX>TRACING_EXPORTER``: ``none`` (default: no SDK is set up and :func:`span` returns a
shared no-op context manager, one global read per call), ``otlp`` (OTLP over HTTP to
``<PREFIX>TRACING_OTLP_ENDPOINT``, batched) or ``console`` (one JSON span per line on stdout).

The trace context travels as W3C ``traceparent``: from the HTTP request, into the outbox row
staged while the request's span is current (:func:`shared.observability.context
.current_traceparent`), into the CloudEvent's ``traceparent`` extension on Kafka as the relay's
``publish`` span, and out of it as the parent of the consumer's ``process`` span — one trace from
``POST /v1/referrals`` to the notifications consumer.

SQL: while tracing is on, every statement run inside a span gets its own ``CLIENT`` child span
(``db.system``, ``db.operation.name``, ``db.query.text`` — the statement with its placeholders,
never the bound values, which may be personal data). Listened to on SQLAlchemy's ``Engine``
class, so every engine of the process is covered. A statement outside any span (a periodic job
between runs) makes no root span of its own: traces stay those of requests and events. Written
here rather than with ``opentelemetry-instrumentation-sqlalchemy``, whose last release pins an
older ``opentelemetry-instrumentation``/semantic conventions than the SDK installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from sqlalchemy.engine import Engine

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
    _listen_to_sql()
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


#: The statement text kept on a SQL span (long multi-row INSERTs are cut).
SQL_TEXT_LIMIT = 1000
_SQL_SPAN = "_coop_sql_span"


def _listen_to_sql() -> None:
    if not event.contains(Engine, "before_cursor_execute", _sql_started):
        event.listen(Engine, "before_cursor_execute", _sql_started)
        event.listen(Engine, "after_cursor_execute", _sql_ended)
        event.listen(Engine, "handle_error", _sql_failed)


def _sql_started(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    tracer = _tracer
    if tracer is None or context is None or not trace.get_current_span().is_recording():
        return
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    system = conn.dialect.name
    started = tracer.start_span(
        f"{operation} {system}",
        kind=SpanKind.CLIENT,
        attributes={
            "db.system": system,
            "db.operation.name": operation,
            "db.query.text": statement[:SQL_TEXT_LIMIT],
        },
    )
    setattr(context, _SQL_SPAN, started)


def _sql_ended(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    started = getattr(context, _SQL_SPAN, None) if context is not None else None
    if started is not None:
        started.end()
        setattr(context, _SQL_SPAN, None)


def _sql_failed(exception_context: Any) -> None:
    context = exception_context.execution_context
    started = getattr(context, _SQL_SPAN, None) if context is not None else None
    if started is not None:
        # The exception's type only: its text may quote the bound values.
        error = type(exception_context.original_exception).__name__
        started.set_status(trace.Status(trace.StatusCode.ERROR, error))
        started.end()
        setattr(context, _SQL_SPAN, None)

"""The console's own telemetry: OpenTelemetry traces and metrics, Prometheus, JSON logs.

One module, low in the layers (it imports only settings), so data, db, actions, worker and ui
can all call it. Nothing here imports streamlit.

- :func:`setup` runs once per process (Streamlit reruns page scripts in one process; the
  second call is a no-op). It installs the SDK tracer and meter providers with the resource
  attributes service.name / service.version / service.instance.id, and exports over
  OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the per-signal variant) is set:
  otherwise spans are only used for the trace ids in the logs, and nothing is sent anywhere.
- Spans: :func:`span` (any block), :func:`page_run`, :func:`cache_lookup`,
  :func:`worker_job`, :func:`traced` (a decorator), :func:`traced_action`, and
  :func:`instrument_engine` (one span per SQL statement, from SQLAlchemy's cursor events).
- Metrics go to both the OpenTelemetry meter (OTLP) and prometheus-client's registry (the
  worker serves it with :func:`serve_prometheus`; the console's asgi.py serves ``/metrics``).
- :func:`configure_logging`: one line per event, JSON when ``ORCA_LOG_FORMAT=json``, with the
  current trace and span ids, and every known secret masked (cookie key, URL passwords).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, ParamSpec, Protocol, TypeVar

import prometheus_client as prom
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

from dashboard.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

SCOPE = "orca.dashboard"
_tracer = trace.get_tracer(SCOPE)
_meter = otel_metrics.get_meter(SCOPE)
_setup_lock = threading.Lock()
_service: str | None = None


# -- setup ----------------------------------------------------------------------------------
def version() -> str:
    try:
        return metadata.version("orca-dashboard")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def instance_id() -> str:
    """This process: ORCA_INSTANCE (the pod name in Kubernetes), else host name and pid."""
    return get_settings().instance or f"{socket.gethostname()}-{os.getpid()}"


def exporting(signal: str = "TRACES") -> bool:
    """True when an OTLP endpoint is configured for ``signal`` (TRACES or METRICS)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def service() -> str | None:
    """The service name :func:`setup` was called with (None before)."""
    return _service


def setup(service_name: str) -> bool:
    """Install the providers for this process once; True on the call that did it."""
    global _service
    with _setup_lock:
        if _service is not None:
            return False
        resource = Resource.create(
            {
                "service.name": f"orca-{service_name}",
                "service.namespace": "orca",
                "service.version": version(),
                "service.instance.id": instance_id(),
            }
        )
        tracer_provider = TracerProvider(resource=resource)
        if exporting("TRACES"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(tracer_provider)
        readers: list[MetricReader] = []
        if exporting("METRICS"):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        otel_metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        _service = service_name
    log.info(
        "telemetry set up for orca-%s (OTLP export %s)",
        service_name,
        "on" if exporting() else "off",
    )
    return True


def flush(timeout_ms: int = 5000) -> None:
    """Send what is buffered now (tests; a worker that is stopping)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_ms)
    meters = otel_metrics.get_meter_provider()
    if isinstance(meters, MeterProvider):
        meters.force_flush(timeout_ms)


# -- metrics: one name, two sinks (OTLP and Prometheus) -----------------------------------------
_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Histogram:
    def __init__(self, otel_name: str, prom_name: str, doc: str, labels: tuple[str, ...]) -> None:
        self._otel = _meter.create_histogram(otel_name, unit="s", description=doc)
        self._prom = prom.Histogram(prom_name, doc, labels, buckets=_LATENCY_BUCKETS)

    def record(self, seconds: float, **labels: str) -> None:
        self._otel.record(seconds, labels)
        self._prom.labels(**labels).observe(seconds)


class _Counter:
    def __init__(self, otel_name: str, prom_name: str, doc: str, labels: tuple[str, ...]) -> None:
        self._otel = _meter.create_counter(otel_name, description=doc)
        self._prom = prom.Counter(prom_name, doc, labels)

    def add(self, amount: int = 1, **labels: str) -> None:
        self._otel.add(amount, labels)
        self._prom.labels(**labels).inc(amount)


PAGE_RUN = _Histogram(
    "orca.page.run.duration", "orca_page_run_seconds", "Run time of one page script run", ("page",)
)
QUERY = _Histogram(
    "orca.db.query.duration",
    "orca_db_query_seconds",
    "Duration of one SQL statement",
    ("operation",),
)
CACHE = _Counter(
    "orca.cache.requests",
    "orca_cache_requests",
    "Shared-cache lookups by result (hit or miss)",
    ("namespace", "result"),
)
ACTIONS = _Counter("orca.actions", "orca_actions", "User actions by outcome", ("action", "outcome"))
PROBES = _Counter(
    "orca.probe.results",
    "orca_probe_results",
    "Health probe results by component and status",
    ("component", "status"),
)
WORKER_LAG = _Histogram(
    "orca.worker.loop.lag",
    "orca_worker_loop_lag_seconds",
    "How late a worker job started after it was due",
    ("job",),
)
JOBS = _Counter(
    "orca.worker.jobs", "orca_worker_jobs", "Worker job runs by outcome", ("job", "outcome")
)

_cache_counts = {"hit": 0, "miss": 0}
_cache_lock = threading.Lock()


def cache_hit_ratio() -> float:
    """Hits / lookups of this process's shared cache so far (0 before the first lookup)."""
    with _cache_lock:
        total = _cache_counts["hit"] + _cache_counts["miss"]
        return _cache_counts["hit"] / total if total else 0.0


prom.Gauge(
    "orca_cache_hit_ratio", "Shared-cache hit ratio of this process since it started"
).set_function(cache_hit_ratio)


def _observe_ratio(_options: otel_metrics.CallbackOptions) -> list[otel_metrics.Observation]:
    return [otel_metrics.Observation(cache_hit_ratio())]


_meter.create_observable_gauge(
    "orca.cache.hit_ratio",
    callbacks=[_observe_ratio],
    description="Shared-cache hit ratio of this process since it started",
)


def serve_prometheus(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - a pod's port
    """Serve ``/metrics`` (prometheus-client's text format) on ``port`` from a daemon thread."""
    prom.start_http_server(port, addr=addr)
    log.info("Prometheus metrics on :%d/metrics", port)


def prometheus_text() -> tuple[bytes, str]:
    """The registry in Prometheus' text format and its content type (the console's /metrics)."""
    return prom.generate_latest(prom.REGISTRY), prom.CONTENT_TYPE_LATEST


# -- spans ----------------------------------------------------------------------------------
@contextlib.contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[Span]:
    """A span around a block, child of the current one; an exception marks it failed."""
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: the function runs inside a span called ``name``."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(name):
                return fn(*args, **kwargs)

        return inner

    return wrap


@contextlib.contextmanager
def page_run(page: str) -> Iterator[Span]:
    """One page script run: span ``page.run`` and the page run time histogram."""
    started = time.perf_counter()
    try:
        with span("page.run", **{"orca.page": page}) as current:
            yield current
    finally:
        PAGE_RUN.record(time.perf_counter() - started, page=page)


class CacheNote(Protocol):
    def __call__(self, hit: bool) -> None: ...


@contextlib.contextmanager
def cache_lookup(namespace: str) -> Iterator[CacheNote]:
    """A shared-cache lookup: call the yielded ``note(hit)`` once the answer is known."""
    with span("cache.get_or_compute", **{"orca.cache.namespace": namespace}) as current:

        def note(hit: bool) -> None:
            result = "hit" if hit else "miss"
            current.set_attribute("orca.cache.hit", hit)
            with _cache_lock:
                _cache_counts[result] += 1
            CACHE.add(namespace=namespace, result=result)

        yield note


class HasOutcome(Protocol):
    @property
    def outcome(self) -> str: ...


A = TypeVar("A", bound=HasOutcome)


def traced_action(fn: Callable[..., A]) -> Callable[..., A]:
    """Decorator for run_authorised(engine, actor, action, body, ...): span ``action`` with
    the action's name and outcome, and the actions-by-outcome counter. Never the actor's
    secrets: only the action name, the outcome and the target type."""

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> A:
        action = str(kwargs.get("action", args[2] if len(args) > 2 else "?"))
        target = kwargs.get("target")
        attrs: dict[str, str] = {"orca.action": action}
        if isinstance(target, tuple) and target:
            attrs["orca.target_type"] = str(target[0])
        with span("action", **attrs) as current:
            try:
                result = fn(*args, **kwargs)
            except Exception:
                ACTIONS.add(action=action, outcome="exception")
                raise
            current.set_attribute("orca.outcome", result.outcome)
            if result.outcome == "error":
                current.set_status(Status(StatusCode.ERROR, "action failed"))
            ACTIONS.add(action=action, outcome=result.outcome)
            return result

    return inner


@contextlib.contextmanager
def worker_job(job: str, *, lag_s: float) -> Iterator[Span]:
    """One worker job run: span ``worker.job``, its lag behind schedule, its outcome."""
    WORKER_LAG.record(max(0.0, lag_s), job=job)
    attrs: dict[str, str | float] = {"orca.job": job, "orca.lag_s": round(lag_s, 3)}
    with span("worker.job", **attrs) as current:
        try:
            yield current
        except Exception:
            JOBS.add(job=job, outcome="error")
            raise
        JOBS.add(job=job, outcome="ok")


def record_probe(component: str, status: str, latency_ms: float | None = None) -> None:
    """One probe result: the probe-results counter and an event on the current span."""
    PROBES.add(component=component, status=status)
    attrs: dict[str, str | float] = {"orca.component": component, "orca.status": status}
    if latency_ms is not None:
        attrs["orca.latency_ms"] = float(latency_ms)
    trace.get_current_span().add_event("probe.result", attrs)


# -- SQL: one span per statement, from the engine's cursor events -------------------------------
_SPAN_KEY = "_orca_otel_span"


def _operation(statement: str) -> str:
    word = statement.lstrip().split(None, 1)
    op = word[0].upper() if word else "?"
    return op if op.isalpha() and len(op) <= 12 else "OTHER"


def instrument_engine(engine: Any) -> None:
    """Trace and time every statement ``engine`` runs (idempotent per engine).

    The span is a child of whatever span is current (the page run, the action, the job), so a
    trace shows which queries a page ran. The statement text is recorded, never the bound
    parameters (they may hold user input).
    """
    from sqlalchemy import event

    if getattr(engine, "_orca_instrumented", False):
        return

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        op = _operation(statement)
        current = _tracer.start_span(
            f"db.{op.lower()}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "db.system.name": "postgresql",
                "db.operation.name": op,
                "db.query.text": statement[:2000],
            },
        )
        if context is not None:
            setattr(context, _SPAN_KEY, (current, time.perf_counter(), op))

    def after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        found = getattr(context, _SPAN_KEY, None)
        if found is None:
            return
        current, started, op = found
        QUERY.record(time.perf_counter() - started, operation=op)
        current.end()
        setattr(context, _SPAN_KEY, None)

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        found = getattr(context, _SPAN_KEY, None) if context is not None else None
        if found is None:
            return
        current, started, op = found
        QUERY.record(time.perf_counter() - started, operation=op)
        current.set_status(
            Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
        )
        current.end()
        setattr(context, _SPAN_KEY, None)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
    engine._orca_instrumented = True


# -- logs -----------------------------------------------------------------------------------
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.I)
MASK = "***"


class RedactSecrets(logging.Filter):
    """Masks URL passwords and every registered secret in a record's final message."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


REDACT = RedactSecrets()


def _trace_ids() -> tuple[str | None, str | None]:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace/span ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = _trace_ids()
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": _service,
            "thread": record.threadName,
        }
        if trace_id:
            out["trace_id"], out["span_id"] = trace_id, span_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = REDACT.scrub(record.exc_text)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the trace id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id, span_id = _trace_ids()
        return f"{line} trace_id={trace_id} span_id={span_id}" if trace_id else line


class _OrcaHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our handler (so a second call finds it and does not add another). It writes to the
    sys.stderr of the moment, not the one it was made with (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def register_secrets() -> None:
    """Mask the secrets the settings know: the cookie key and the URLs' passwords."""
    settings = get_settings()
    REDACT.add(settings.cookie_key)
    for url in (settings.database_url, settings.redis_url):
        match = re.search(r"://[^:/@\s]*:([^@\s]+)@", url or "")
        if match:
            REDACT.add(match.group(1))


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Log one line per event to stderr (JSON or text, ``ORCA_LOG_FORMAT``), secrets masked.

    Adds one handler to the root logger (once); handlers others installed stay.
    """
    settings = get_settings()
    register_secrets()
    fmt = fmt or settings.log_format
    root = logging.getLogger()
    root.setLevel(getattr(logging, (level or settings.log_level).upper(), logging.INFO))
    handler = next((h for h in root.handlers if isinstance(h, _OrcaHandler)), None)
    if handler is None:
        handler = _OrcaHandler()
        handler.addFilter(REDACT)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.getLogger("alembic").setLevel(logging.WARNING)

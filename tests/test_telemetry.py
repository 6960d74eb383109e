"""dashboard/telemetry.py in-process: spans of SQL, cache, actions and worker jobs nest under
the current span; metrics count them; logs carry trace ids and never a secret.

Spans are read from an in-memory exporter added to this process's (real SDK) tracer provider;
the end-to-end export over OTLP/HTTP is tests/e2e/test_telemetry.py.
"""

from __future__ import annotations

import io
import json
import logging
import secrets

import prometheus_client as prom
import pytest
import redis
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine, text

from dashboard import telemetry
from dashboard.actions.base import ActionResult, run_authorised, system_actor
from dashboard.data.cache import SharedCache
from dashboard.worker.main import Job, Worker


def _named(memory: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [s for s in memory.get_finished_spans() if s.name.startswith(prefix)]


def _value(name: str, **labels: str) -> float:
    return prom.REGISTRY.get_sample_value(name, labels) or 0.0


def test_setup_runs_once_per_process(spans: InMemorySpanExporter) -> None:
    # Whichever call came first in this process (this module's, or a command's) holds.
    first = telemetry.service()
    assert first is not None
    assert telemetry.setup("other") is False, "a second setup (a Streamlit rerun) is a no-op"
    assert telemetry.service() == first
    resource = trace.get_tracer_provider().resource  # type: ignore[attr-defined]
    assert resource.attributes["service.name"] == f"orca-{first}"
    assert resource.attributes["service.version"] == telemetry.version()
    assert resource.attributes["service.instance.id"]


def test_sql_statements_are_child_spans_of_the_current_span(
    spans: InMemorySpanExporter, engine: Engine
) -> None:
    spans.clear()
    before = _value("orca_db_query_seconds_count", operation="SELECT")
    with telemetry.page_run("unit_page") as page, engine.connect() as conn:
        conn.execute(text("SELECT 1 AS one WHERE :secret = :secret"), {"secret": "hunter2-x"})
    (query,) = [s for s in _named(spans, "db.select") if "one" in str(s.attributes)]
    assert query.parent is not None
    assert query.parent.span_id == page.get_span_context().span_id
    assert query.attributes is not None
    assert query.attributes["db.operation.name"] == "SELECT"
    assert "hunter2-x" not in json.dumps(dict(query.attributes)), "parameters are never recorded"
    assert _value("orca_db_query_seconds_count", operation="SELECT") > before
    assert _value("orca_page_run_seconds_count", page="unit_page") >= 1


def test_a_failing_statement_ends_its_span_as_an_error(
    spans: InMemorySpanExporter, engine: Engine
) -> None:
    spans.clear()
    with pytest.raises(Exception, match="no_such_table"), engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    (failed,) = _named(spans, "db.select")
    assert failed.status.status_code == trace.StatusCode.ERROR


def test_cache_lookups_count_hits_and_misses(
    spans: InMemorySpanExporter, redis_client: redis.Redis
) -> None:
    spans.clear()
    namespace = "tele" + secrets.token_hex(3)
    cache = SharedCache(redis_client, namespace=namespace)
    cache.get_or_compute("k", 30, lambda: 1)
    cache.get_or_compute("k", 30, lambda: 2)
    hits = [s.attributes["orca.cache.hit"] for s in _named(spans, "cache.") if s.attributes]
    assert hits == [False, True]
    assert _value("orca_cache_requests_total", namespace=namespace, result="miss") == 1
    assert _value("orca_cache_requests_total", namespace=namespace, result="hit") == 1
    assert 0 < telemetry.cache_hit_ratio() < 1
    assert prom.REGISTRY.get_sample_value("orca_cache_hit_ratio") == telemetry.cache_hit_ratio()


def test_actions_are_spans_counted_by_outcome(spans: InMemorySpanExporter, engine: Engine) -> None:
    spans.clear()
    before = _value("orca_actions_total", action="agent.release", outcome="noop")
    result = run_authorised(
        engine,
        system_actor("test:telemetry"),
        "agent.release",
        lambda conn, roles: (conn.execute(text("SELECT 2")), ActionResult("noop", "no change"))[1],
        target=("agent", "nobody"),
    )
    assert result.outcome == "noop"
    (action,) = _named(spans, "action")
    assert action.attributes is not None
    assert action.attributes["orca.action"] == "agent.release"
    assert action.attributes["orca.outcome"] == "noop"
    assert _value("orca_actions_total", action="agent.release", outcome="noop") == before + 1
    # The body's queries are children of the action span.
    children = [s for s in _named(spans, "db.") if s.parent is not None]
    assert any(s.parent.span_id == action.context.span_id for s in children)  # type: ignore[union-attr]


def test_worker_jobs_record_lag_and_outcome(
    spans: InMemorySpanExporter, engine: Engine, redis_client: redis.Redis
) -> None:
    spans.clear()
    worker = Worker(engine)

    def boom() -> None:
        raise RuntimeError("job failed on purpose")

    worker.jobs = [Job("unit_ok", 60, lambda: None), Job("unit_fail", 60, boom)]
    assert worker.run_due(force=True) == {
        "unit_ok": "ok",
        "unit_fail": "RuntimeError: job failed on purpose",
    }
    jobs = {s.attributes["orca.job"]: s for s in _named(spans, "worker.job") if s.attributes}
    assert set(jobs) == {"unit_ok", "unit_fail"}
    assert jobs["unit_fail"].status.status_code == trace.StatusCode.ERROR
    assert _value("orca_worker_jobs_total", job="unit_fail", outcome="error") == 1
    assert _value("orca_worker_loop_lag_seconds_count", job="unit_ok") == 1


def _capture(fmt: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(telemetry.REDACT)
    handler.setFormatter(telemetry.JsonFormatter() if fmt == "json" else telemetry.TextFormatter())
    logger = logging.getLogger("tests.telemetry." + fmt)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream, handler


def test_json_logs_carry_trace_ids_and_mask_secrets(spans: InMemorySpanExporter) -> None:
    key = "cookie-" + secrets.token_urlsafe(24)
    telemetry.REDACT.add(key)
    logger, stream, handler = _capture("json")
    try:
        with telemetry.span("unit.logging") as current:
            logger.info("connecting to %s with key %s", "postgresql://orca:s3cret-pw@db/orca", key)
            try:
                raise ValueError(f"bad key {key}")
            except ValueError:
                logger.exception("failed")
        logger.info("outside any span")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3
    first, second, third = lines
    ctx = current.get_span_context()
    assert first["trace_id"] == format(ctx.trace_id, "032x")
    assert first["span_id"] == format(ctx.span_id, "016x")
    assert first["message"] == "connecting to postgresql://orca:***@db/orca with key ***"
    assert "exception" in second and "ValueError" in second["exception"]
    assert "trace_id" not in third
    assert key not in stream.getvalue() and "s3cret-pw" not in stream.getvalue()


def test_text_logs_mask_secrets_too() -> None:
    logger, stream, handler = _capture("text")
    try:
        logger.warning("redis at redis://:r3dis-pw@cache:6379/0 is down")
    finally:
        logger.removeHandler(handler)
    assert "r3dis-pw" not in stream.getvalue()
    assert "redis://:***@cache:6379/0" in stream.getvalue()

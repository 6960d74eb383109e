"""The console's own telemetry, end to end: a real console and worker export over OTLP/HTTP to
a real local receiver (http.server decoding the protobuf with opentelemetry-proto), serve
Prometheus /metrics, and log JSON lines with trace ids and without any secret.

One page load of Service Health must arrive as a trace whose ``page.run`` span is an ancestor
of the page's SQL spans; the worker's jobs arrive as ``worker.job`` spans; the logs of the
whole run (console and worker, a failed and a good sign-in by a demo user) never contain the
demo passwords, the wrong password typed or the cookie key.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from dashboard.actions.demo_users import print_demo_users_once
from dashboard.settings import Settings
from tests.conftest import MakeDatabase
from tests.e2e.browser import wait_until_loaded
from tests.e2e.conftest import COOKIE_KEY, RunningConsole, start_console
from tests.harness import LoggedProcess, free_port, run_log_path

pytestmark = pytest.mark.e2e

INSTANCE = "console-otel-1"


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]


def _value(v: common_pb2.AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass
class Receiver:
    """What an OTLP/HTTP receiver got: decoded spans and metric names, by resource."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    metrics: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_traces(self, body: bytes) -> bytes:
        req = trace_service_pb2.ExportTraceServiceRequest()
        req.ParseFromString(body)
        got = []
        for rs in req.resource_spans:
            resource = _attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    got.append(
                        ReceivedSpan(
                            sp.name,
                            sp.trace_id.hex(),
                            sp.span_id.hex(),
                            sp.parent_span_id.hex(),
                            _attrs(sp.attributes),
                            resource,
                        )
                    )
        with self.lock:
            self.spans.extend(got)
        return bytes(trace_service_pb2.ExportTraceServiceResponse().SerializeToString())

    def take_metrics(self, body: bytes) -> bytes:
        req = metrics_service_pb2.ExportMetricsServiceRequest()
        req.ParseFromString(body)
        with self.lock:
            for rm in req.resource_metrics:
                resource = _attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    self.metrics.extend((m.name, resource) for m in sm.metrics)
        return bytes(metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString())

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert self.headers.get("Content-Type") == "application/x-protobuf"
            receiver.posts.append(self.path)
            if self.path == "/v1/traces":
                answer = receiver.take_traces(body)
            elif self.path == "/v1/metrics":
                answer = receiver.take_metrics(body)
            else:
                answer = b""
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(got))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass
class Run:
    console: RunningConsole
    worker: LoggedProcess
    worker_metrics: str
    demo: dict[str, str]
    receiver: Receiver


@pytest.fixture(scope="module")
def run(
    make_database: MakeDatabase, redis_url: str, receiver: tuple[Receiver, str]
) -> Iterator[Run]:
    """A fresh database with the demo users, a console and a worker exporting to ``receiver``."""
    got, endpoint = receiver
    db = make_database("orca_otel")
    lines: list[str] = []
    print_demo_users_once(db.engine(), Settings(env="development"), lines.append)
    demo = {
        m.group(1): m.group(2)
        for line in lines
        if (m := re.match(r"\s+(\w+)\s+(\S+)\s+\(", line)) is not None
    }
    assert "operator" in demo, lines
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "ORCA_LOG_FORMAT": "json",
        "ORCA_LOG_LEVEL": "INFO",
    }
    console = start_console(db.url, redis_url, name="console-otel", ORCA_INSTANCE=INSTANCE, **otel)
    metrics_port = free_port()
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": db.url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_COOKIE_KEY": COOKIE_KEY,
        "ORCA_METRICS_PORT": str(metrics_port),
        "ORCA_PROBE_INTERVAL_S": "2",
        "ORCA_INSTANCE": "worker-otel-1",
        **otel,
    }
    worker = LoggedProcess(
        "the worker",
        [sys.executable, "-m", "dashboard.cli", "worker"],
        run_log_path("worker-otel"),
        env=env,
    ).start()
    try:
        yield Run(console, worker, f"http://127.0.0.1:{metrics_port}/metrics", demo, got)
    finally:
        worker.stop(timeout_s=10)
        console.process.stop(timeout_s=10)
        db.drop()


def _wait(what: str, found: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"never saw {what}")


def _sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.fill('input[aria-label="User name"]', username)
    page.fill('input[aria-label="Password"]', password)
    page.get_by_role("button", name="Sign in").click()


def test_one_page_load_is_a_trace_of_the_page_and_its_queries(run: Run, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(run.console.url + "/")
        page.wait_for_selector('input[aria-label="User name"]', timeout=30_000)
        _sign_in(page, run.console.url, "operator", "wrong-" + run.demo["operator"][::-1])
        page.wait_for_selector("text=Sign-in failed", timeout=15_000)
        _sign_in(page, run.console.url, "operator", run.demo["operator"])
        page.wait_for_selector('h1:has-text("Service Health")', timeout=30_000)
        wait_until_loaded(page)
    finally:
        context.close()

    def page_spans() -> list[ReceivedSpan]:
        return [
            s
            for s in run.receiver.snapshot()
            if s.name == "page.run" and s.attributes.get("orca.page") == "service_health"
        ]

    page_span = _wait("a page.run span for service_health", page_spans)[0]
    assert page_span.resource["service.name"] == "orca-console"
    assert page_span.resource["service.instance.id"] == INSTANCE
    assert page_span.resource["service.version"]

    def queries_under_page() -> list[ReceivedSpan]:
        spans = [s for s in run.receiver.snapshot() if s.trace_id == page_span.trace_id]
        by_id = {s.span_id: s for s in spans}

        def under_page(s: ReceivedSpan) -> bool:
            seen = 0
            while s.parent_id and seen < 50:
                if s.parent_id == page_span.span_id:
                    return True
                parent = by_id.get(s.parent_id)
                if parent is None:
                    return False
                s, seen = parent, seen + 1
            return False

        return [s for s in spans if s.name.startswith("db.") and under_page(s)]

    queries = _wait("SQL spans under the page span", queries_under_page)
    assert all(q.attributes["db.system.name"] == "postgresql" for q in queries)
    assert any(
        q.attributes["db.query.text"].lstrip().upper().startswith(("SELECT", "WITH"))
        for q in queries
    )
    # Bound parameters are never recorded, only the statement text.
    assert not any(k.startswith("db.query.parameter") for q in queries for k in q.attributes)

    text = httpx.get(run.console.url + "/metrics", timeout=5).text
    assert re.search(r'^orca_page_run_seconds_count\{page="service_health"\} [1-9]', text, re.M)
    assert re.search(r'^orca_db_query_seconds_count\{operation="SELECT"\} [1-9]', text, re.M)
    assert "orca_cache_hit_ratio" in text
    _wait(
        "the console's metrics over OTLP",
        lambda: any(
            name == "orca.page.run.duration" and res.get("service.name") == "orca-console"
            for name, res in list(run.receiver.metrics)
        ),
    )


def test_the_worker_exports_job_spans_and_serves_prometheus(run: Run) -> None:
    def worker_jobs() -> list[ReceivedSpan]:
        return [
            s
            for s in run.receiver.snapshot()
            if s.name == "worker.job" and s.resource.get("service.name") == "orca-worker"
        ]

    _wait(
        "worker.job spans of the probes and rollups jobs",
        lambda: {"probes", "rollups"} <= {s.attributes["orca.job"] for s in worker_jobs()},
        timeout_s=60,
    )
    text = _wait(
        "the worker's /metrics",
        lambda: (lambda r: r.text if r.status_code == 200 else "")(
            httpx.get(run.worker_metrics, timeout=3)
        ),
    )
    assert re.search(r'^orca_worker_loop_lag_seconds_count\{job="probes"\} [1-9]', text, re.M)
    assert re.search(r"^orca_probe_results_total\{", text, re.M)
    probe_cycles = [s for s in run.receiver.snapshot() if s.name == "probe.cycle"]
    assert probe_cycles, "the probe cycle has its own span"


def test_logs_are_json_with_trace_ids_and_no_secrets(run: Run) -> None:
    # Both processes keep running for this test; their logs so far are the full run.
    time.sleep(1)
    logs = {
        "console": run.console.process.log_path.read_text(errors="replace"),
        "worker": run.worker.log_path.read_text(errors="replace"),
    }
    secrets = {
        **{f"demo password of {u}": p for u, p in run.demo.items()},
        "cookie key": COOKIE_KEY,
    }
    secrets["the wrong password"] = "wrong-" + run.demo["operator"][::-1]
    for where, text in logs.items():
        assert text.strip(), f"the {where} logged nothing"
        for what, secret in secrets.items():
            assert secret not in text, f"the {where} log holds {what}"
    records = [
        json.loads(line)
        for line in logs["worker"].splitlines()
        if line.startswith("{") and line.endswith("}")
    ]
    assert records, "the worker logs JSON lines"
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    traced = [r for r in records if r.get("trace_id")]
    assert traced, "a log line written inside a span carries its trace and span ids"
    received = {s.trace_id for s in run.receiver.snapshot()}
    assert any(r["trace_id"] in received and len(r["span_id"]) == 16 for r in traced)
    console_json = [line for line in logs["console"].splitlines() if line.startswith('{"ts"')]
    assert console_json, "the console logs JSON lines too"

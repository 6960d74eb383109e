"""The ORCA Core stand-in process: HTTP API + live-traffic loop + fault reactions.

``CoreStandIn(engine, redis).serve_forever()`` is what `orca-dashboard core` runs; tests use
``start()`` / ``stop()`` (or the context manager) with a short tick on a free port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import httpx
import psycopg
import redis
from sqlalchemy import Engine

from dashboard.core.api import CoreApi, CoreHTTPServer, RequestRecorder
from dashboard.core.faults import FaultView, clear_fault
from dashboard.core.traffic import TrafficGenerator
from dashboard.integrations.redis_client import key

log = logging.getLogger(__name__)

CRASH_EXIT_CODE: Final = 70
DEFAULT_TICK_S: Final = 60.0
DEFAULT_SYNC_EVERY_S: Final = 10.0


def _exit_process(reason: str) -> None:
    log.critical("ORCA Core stand-in exits: %s", reason)
    logging.shutdown()
    os._exit(CRASH_EXIT_CODE)


class ConnectionLeak:
    """Database connections left idle inside an open transaction (the db_connection_leak
    fault), as a code path that forgets to commit would.

    A leak happens once per fault: connections the server ends (the Database Connection
    Issues runbook) are not opened again; when all of them are gone the leak is drained.
    """

    def __init__(self, database_url: str) -> None:
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.held: list[psycopg.Connection[Any]] = []
        self.instance: str | None = None  # the fault (its start time) the leak belongs to
        self.opened = 0

    def count(self) -> int:
        return len(self.held)

    def _open_one(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, connect_timeout=3, application_name="orca-core-leak")
        # A forgotten transaction: idle in transaction until someone ends the session.
        conn.execute("SET idle_in_transaction_session_timeout = 0")
        conn.execute("SELECT 1")
        return conn

    def reap(self) -> int:
        """Forget connections the server has ended; returns how many are still held."""
        alive = []
        for conn in self.held:
            try:
                conn.pgconn.consume_input()  # reads what the server sent; sends nothing
                dead = conn.pgconn.status != psycopg.pq.ConnStatus.OK
            except psycopg.Error:
                dead = True
            if dead:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            else:
                alive.append(conn)
        self.held = alive
        return len(alive)

    def resize(self, wanted: int, *, step: int = 10, instance: str | None = None) -> bool:
        """Hold ``wanted`` connections for fault ``instance``; True when the leak drained
        (all opened connections of this instance were ended by the server)."""
        if instance != self.instance:
            self.instance, self.opened = instance, 0
        while len(self.held) > wanted:
            conn = self.held.pop()
            with contextlib.suppress(psycopg.Error):
                conn.close()
        if wanted == 0:
            return False
        if self.opened >= wanted:
            return self.reap() == 0
        for _ in range(min(step, wanted - self.opened)):
            try:
                self.held.append(self._open_one())
                self.opened += 1
            except psycopg.Error as exc:  # the server is full: that is the point of the drill
                log.warning("connection leak stopped at %s: %s", len(self.held), exc)
                self.opened = wanted
                return False
        return False


class _CollectorHandler(BaseHTTPRequestHandler):
    """Health on GET (like the collector's health_check extension, :13133) and an OTLP/HTTP
    receiver on POST /v1/<signal>; both answer 503 while the collector_down fault lasts."""

    started = time.time()
    faults: FaultView | None = None

    def _down(self) -> bool:
        return self.faults is not None and self.faults.get("collector_down") is not None

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
        self.rfile.read(length)
        code = 503 if self._down() else 200
        body = b'{"error": "collector unavailable"}' if code == 503 else b"{}"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        down = self._down()
        body = json.dumps(
            {
                "status": "Server not available" if down else "Server available",
                "upSince": datetime.fromtimestamp(self.started, UTC).isoformat(),
                "uptime": f"{time.time() - self.started:.0f}s",
            }
        ).encode()
        self.send_response(503 if down else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class CoreStandIn:
    """The stand-in: serves the API and, unless ``traffic=False``, writes live data each tick."""

    def __init__(
        self,
        engine: Engine,
        redis_client: redis.Redis,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_s: float = DEFAULT_TICK_S,
        sync_every_s: float = DEFAULT_SYNC_EVERY_S,
        traffic: bool = True,
        fault_ttl_s: float = 0.5,
        on_crash: Callable[[str], None] | None = None,
        collector_port: int | None = None,
        seed: int | None = None,
        cures: tuple[str, ...] = (),
        version: str | None = None,
        otlp_endpoint: str | None = None,
        exporter: str = "otlp",
    ) -> None:
        if tick_s <= 0 or sync_every_s <= 0:
            raise ValueError("tick and sync intervals must be positive")
        self.engine = engine
        self.redis = redis_client
        self.tick_s = tick_s
        self.sync_every_s = sync_every_s
        self.traffic = traffic
        self.stop_event = threading.Event()
        self.crashed: str | None = None
        self._on_crash = on_crash or _exit_process
        self.faults = FaultView(redis_client, ttl_s=fault_ttl_s)
        self.recorder = RequestRecorder()
        self.leak = ConnectionLeak(engine.url.render_as_string(hide_password=False))
        self.api = CoreApi(
            engine,
            redis_client,
            self.faults,
            self.recorder,
            stop_event=self.stop_event,
            on_crash=self.crash,
        )
        self.generator = TrafficGenerator(
            engine, self.recorder, self.faults, leaked_connections=self.leak.count, seed=seed
        )
        self.httpd = CoreHTTPServer((host, port), self.api)
        self.collector: ThreadingHTTPServer | None = None
        if collector_port is not None:
            handler = type("CollectorHandler", (_CollectorHandler,), {"faults": self.faults})
            self.collector = ThreadingHTTPServer((host, collector_port), handler)
            self.collector.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self._serving = False
        # Faults of the previous process (a requested restart) or version (a rollback) that
        # this fresh start does not have: see dashboard.core.control.
        self.cures = cures
        self.version = version
        # Telemetry export of the stand-in itself (only when an OTLP endpoint is given):
        # "otlp" posts to the collector and records failures; "console" writes to stdout.
        self.otlp_endpoint = otlp_endpoint
        self.exporter = exporter
        self._next_export = 0.0
        self.ticks = 0

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.httpd.server_address[0])
        return f"http://{host}:{self.port}"

    # -- faults that act on the process -----------------------------------------------------
    def crash(self, reason: str) -> None:
        """The crash fault: by default the process exits at once (`up` restarts it)."""
        if self.crashed is not None:
            return
        self.crashed = reason
        self._on_crash(reason)

    def _watch_faults(self) -> None:
        faults = self.faults.active()
        if "crash" in faults:
            self.crash("injected fault: crash")
            return
        leak = faults.get("db_connection_leak")
        drained = self.leak.resize(
            int(leak.params.get("connections", 0)) if leak is not None else 0,
            instance=leak.started_at.isoformat() if leak is not None else None,
        )
        if drained:
            log.warning("leaked connections were ended by the server: the leak is over")
            with contextlib.suppress(redis.RedisError):
                clear_fault(self.redis, "db_connection_leak")

    def _export(self) -> None:
        """One telemetry export every 2 s (a tiny OTLP/HTTP JSON batch)."""
        now = time.monotonic()
        if self.otlp_endpoint is None or now < self._next_export:
            return
        self._next_export = now + 2.0
        if self.exporter == "console":
            print(
                f"telemetry (console exporter): 1 span at {datetime.now(UTC).isoformat()}",
                flush=True,
            )
            return
        try:
            answer = httpx.post(
                self.otlp_endpoint.rstrip("/") + "/v1/traces",
                json={"resourceSpans": []},
                timeout=1.0,
                trust_env=False,
            )
            error = None if answer.status_code < 300 else f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        if error is None:
            return
        entry = {"at": datetime.now(UTC).isoformat(), "service": "orca-core", "error": error}
        with contextlib.suppress(redis.RedisError):
            pipe = self.redis.pipeline()
            pipe.lpush(key("telemetry", "export_errors"), json.dumps(entry))
            pipe.ltrim(key("telemetry", "export_errors"), 0, 49)
            pipe.execute()

    # -- loop -------------------------------------------------------------------------------
    def _loop(self) -> None:
        step = min(1.0, self.tick_s, self.sync_every_s)
        next_sync = time.monotonic()
        next_tick = time.monotonic() + self.tick_s
        while not self.stop_event.is_set():
            try:
                self._watch_faults()
                if self.crashed is not None:
                    return
                self._export()
                now = time.monotonic()
                if self.traffic and now >= next_sync:
                    self.generator.sync_refresh()
                    next_sync = now + self.sync_every_s
                if self.traffic and now >= next_tick:
                    self.generator.tick(tick_s=self.tick_s)
                    self.ticks += 1
                    next_tick = max(next_tick + self.tick_s, now + self.tick_s / 2)
            except Exception:  # the loop must outlive any one failure
                log.exception("stand-in loop step failed")
            self.stop_event.wait(step)
        self.leak.resize(0)

    def _cure(self) -> None:
        for name in self.cures:
            with contextlib.suppress(redis.RedisError, ValueError):
                if clear_fault(self.redis, name):
                    log.warning("fault %s ended: it belonged to the previous process", name)
        self.faults._at = -1e9  # re-read at once

    def start(self) -> None:
        """Serve and generate on background threads (returns at once)."""
        if self.cures:
            self._cure()
        if self.faults.get("crash") is not None:
            self.crash("injected fault: crash (active at start)")
            return
        if self.traffic:
            self.generator.backfill_gap_keys()
        self._serving = True
        self._spawn("orca-core-http", self.httpd.serve_forever)
        if self.collector is not None:
            self._spawn("orca-core-collector", self.collector.serve_forever)
        self._spawn("orca-core-loop", self._loop)
        log.info("ORCA Core stand-in serving on %s (tick %.0f s)", self.url, self.tick_s)

    def _spawn(self, name: str, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop serving (listening socket closed: connections are refused from now on)."""
        self.stop_event.set()
        for server in (self.httpd, self.collector):
            if server is None:
                continue
            if self._serving:
                server.shutdown()  # blocks forever if serve_forever never ran
            server.server_close()
        self._serving = False
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self.leak.resize(0)

    def serve_forever(self) -> None:
        """Run until :meth:`stop` (from a signal handler) or a crash."""
        self.start()
        while not self.stop_event.is_set() and self.crashed is None:
            self.stop_event.wait(0.5)
        self.stop()

    def __enter__(self) -> CoreStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Real local peers for the probe, client, sync and stand-in tests: HTTP servers on free ports
that answer well, badly, slowly or never (databases: the `make_database` fixture)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from tests.harness import free_port, wait_for

__all__ = ["free_port", "wait_for"]  # re-exported: the peers' tests import them from here

Reply = Callable[["PeerHandler"], None]


def healthy_body(status: str = "healthy") -> dict[str, Any]:
    return {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(),
        "version": "9.9.9",
        "checks": [
            {"name": "database", "status": "up" if status == "healthy" else "down"},
            {"name": "redis", "status": "up"},
        ],
    }


class PeerHandler(BaseHTTPRequestHandler):
    server: Peer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.hits[self.path.split("?")[0]] = (
            self.server.hits.get(self.path.split("?")[0], 0) + 1
        )
        path = self.path.split("?")[0]
        reply = self.server.routes.get(path) or self.server.routes.get("*")
        if reply is None:
            self.send_json(404, {"error": "not found"})
            return
        with contextlib.suppress(OSError):
            reply(self)

    def send_json(self, code: int, body: Any) -> None:
        self.send_raw(code, json.dumps(body).encode())

    def send_raw(self, code: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


class Peer(ThreadingHTTPServer):
    """A test HTTP peer: ``routes`` maps a path (or "*") to a reply function."""

    daemon_threads = True

    def __init__(self, routes: dict[str, Reply]) -> None:
        self.routes = routes
        self.hits: dict[str, int] = {}
        self.stop_event = threading.Event()
        super().__init__(("127.0.0.1", 0), PeerHandler)
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.stop_event.set()
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def peer(routes: dict[str, Reply]) -> Iterator[Peer]:
    server = Peer(routes)
    try:
        yield server
    finally:
        server.close()


# -- reply behaviours -----------------------------------------------------------------------
def json_reply(code: int, body: Any) -> Reply:
    return lambda h: h.send_json(code, body)


def raw_reply(code: int, payload: bytes, content_type: str = "text/html") -> Reply:
    return lambda h: h.send_raw(code, payload, content_type)


def slow_reply(seconds: float, then: Reply) -> Reply:
    def reply(h: PeerHandler) -> None:
        h.server.stop_event.wait(seconds)
        then(h)

    return reply


def drip_reply(every_s: float = 0.3, total_s: float = 30.0) -> Reply:
    """Headers at once, then one body byte every ``every_s`` (never reaching a read timeout)."""

    def reply(h: PeerHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.flush()
        end = time.monotonic() + total_s
        while time.monotonic() < end and not h.server.stop_event.is_set():
            h.wfile.write(b" ")
            h.wfile.flush()
            h.server.stop_event.wait(every_s)

    return reply


def drip_headers_reply(every_s: float = 0.3, total_s: float = 30.0) -> Reply:
    """The status line and headers themselves arrive one byte at a time."""

    def reply(h: PeerHandler) -> None:
        end = time.monotonic() + total_s
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            if time.monotonic() > end or h.server.stop_event.is_set():
                return
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            h.server.stop_event.wait(every_s)

    return reply


def hang_reply(h: PeerHandler) -> None:
    """Read the request, never answer (until the test ends)."""
    h.server.stop_event.wait(60)
    h.close_connection = True


class BlackHole:
    """A socket that listens but never accepts: connects succeed (backlog), nothing answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


# -- databases ------------------------------------------------------------------------------
def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgresql://"
    )

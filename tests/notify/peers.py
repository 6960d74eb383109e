"""Real local peers for the delivery tests: an HTTP endpoint and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class HttpPeer:
    """Answers POSTs: ``fail_first`` times with ``fail_status``, then ``ok_status``.

    ``hang_s`` > 0 makes it sit that long before answering (a hung peer).
    """

    ok_status: int = 200
    ok_body: bytes = b"ok"
    fail_first: int = 0
    fail_status: int = 503
    hang_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    calls: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.calls += 1
            n = self.calls
        if self.hang_s:
            time.sleep(self.hang_s)
        if n <= self.fail_first:
            return self.fail_status, b"try later"
        with self.lock:
            self.received.append(json.loads(body))
            self.paths.append(path)
        return self.ok_status, self.ok_body


@contextmanager
def http_peer(**options: Any) -> Iterator[HttpPeer]:
    peer = HttpPeer(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            status, body = peer.answer(self.path, self.rfile.read(size))
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up on a hung answer
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpPeer:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


@contextmanager
def smtp_peer() -> Iterator[SmtpPeer]:
    """A real SMTP server on a free local port; every accepted message is kept."""
    peer = SmtpPeer("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            peer.messages.append(message_from_bytes(envelope.content))
            peer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 Message accepted for delivery"

    with socket.socket() as probe:  # a free port (aiosmtpd cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        peer.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=peer.port)
    controller.start()
    try:
        yield peer
    finally:
        controller.stop()

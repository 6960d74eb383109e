"""Test plumbing shared by every folder: free ports, logged subprocesses, throwaway databases."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import redis
from sqlalchemy import Engine

from dashboard.core.server import CoreStandIn
from dashboard.db.engine import make_engine
from dashboard.db.migrate import upgrade
from dashboard.embedded import create_database
from dashboard.settings import PROJECT_ROOT, to_sqlalchemy_url

ARTIFACTS = PROJECT_ROOT / "artifacts"
#: Generous factor for wall-clock bounds: two cores shared by several suites make any
#: "this took less than N s" check slow by a few times without anything being wrong.
#: Bounds stay well below the hang or retry they guard against.
SLOW_MACHINE = float(os.environ.get("ORCA_TEST_TIME_FACTOR", "3"))


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick, so parallel suites never collide)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], *, timeout_s: float, step_s: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes; the last answer is returned."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


# -- subprocesses ---------------------------------------------------------------------------
def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist yet)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class LoggedProcess:
    """A child process whose output goes to a file, never to a pipe nobody reads.

    A pipe holds 64 KiB; a chatty server that fills it blocks on its next write, so its
    stdout and stderr go to one log file under artifacts/ instead, and every failure message
    about the process carries the log's tail.
    """

    name: str
    args: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path = PROJECT_ROOT
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> LoggedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(self.args),
            cwd=self.cwd,
            env=dict(self.env) if self.env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def describe(self, problem: str) -> str:
        """``problem`` followed by where the log is and its tail."""
        return f"{self.name}: {problem}\n--- {self.log_path} (tail) ---\n{tail(self.log_path)}"

    def wait_until(self, ready: Callable[[], bool], *, timeout_s: float) -> None:
        """Poll ``ready`` until it holds; fail at once (with the log) if the process exits."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise AssertionError(self.describe(f"exited with code {code} while starting"))
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(self.describe(f"not ready within {timeout_s:.0f} s"))

    def stop(self, *, timeout_s: float = 10) -> int | None:
        """Terminate, wait at most ``timeout_s``, then kill: teardown never hangs."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        return proc.returncode if proc is not None else None


def run_log_path(name: str) -> Path:
    """artifacts/logs/<name>-<time>-<pid>.log: one file per run, never overwritten."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return ARTIFACTS / "logs" / f"{name}-{stamp}-{os.getpid()}.log"


# -- databases ------------------------------------------------------------------------------
def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class ThrowawayDatabase:
    """A database of its own on the suite's server, dropped by :meth:`drop` (or ``with``)."""

    name: str
    url: str
    server_url: str
    _engines: list[Engine] = field(default_factory=list, repr=False)
    dropped: bool = False

    def engine(self, **options: Any) -> Engine:
        """A new engine on this database (disposed when the database is dropped)."""
        engine = make_engine(to_sqlalchemy_url(self.url), **options)
        self._engines.append(engine)
        return engine

    def drop(self) -> None:
        if self.dropped:
            return
        self.dropped = True
        for engine in self._engines:
            engine.dispose()
        make_engine.cache_clear()  # no cached engine may point at a database that is gone
        with psycopg.connect(_plain(self.server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def __enter__(self) -> ThrowawayDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


def new_database(server_url: str, prefix: str, *, migrate: bool = True) -> ThrowawayDatabase:
    """Create database ``<prefix>_<pid>_<random>`` on the server of ``server_url``."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    plain = _plain(server_url)
    create_database(plain, name)
    with psycopg.connect(plain) as conn:
        host, port, user = conn.info.host, conn.info.port, conn.info.user
    if host.startswith("/"):
        url = f"postgresql://{user}@/{name}?host={host}&port={port}"
    else:
        url = f"postgresql://{user}@{host}:{port}/{name}"
    db = ThrowawayDatabase(name, url, server_url)
    if migrate:
        try:
            upgrade(url)
        except BaseException:
            db.drop()
            raise
    return db


# -- the ORCA Core stand-in -----------------------------------------------------------------
@contextlib.contextmanager
def running_standin(engine: Engine, redis_url: str, **options: Any) -> Iterator[CoreStandIn]:
    """A started stand-in over ``engine``; a crash fault stops its server, never the tests."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    holder: dict[str, CoreStandIn] = {}

    def crashed(reason: str) -> None:
        core = holder["core"]
        core.stop_event.set()
        core.httpd.shutdown()
        core.httpd.server_close()

    options.setdefault("on_crash", crashed)
    standin = CoreStandIn(engine, client, **options)
    holder["core"] = standin
    standin.start()
    try:
        yield standin
    finally:
        if standin.crashed is None:
            standin.stop()
        client.close()


def generous(seconds: float) -> float:
    """A wall-clock bound of ``seconds`` on a quiet machine, stretched for a loaded one."""
    return seconds * SLOW_MACHINE


# -- a proxy that freezes -------------------------------------------------------------------
class FreezingProxy:
    """A local TCP proxy in front of a real server that can stop forwarding on demand.

    Frozen, it behaves like a server whose process is alive but stopped (SIGSTOP) or cut off
    by a partition the kernel does not see: new connections are accepted, bytes sent are
    acknowledged by the kernel and never answered. ``thaw()`` forwards again. The upstream is
    ``(host, port)`` or the path of a Unix socket.
    """

    def __init__(self, upstream: str | tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self._frozen = threading.Event()
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()
        with self._lock:
            held, self._held = self._held, []
        for client in held:
            self._forward(client)

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.upstream)
            return sock
        return socket.create_connection(self.upstream, timeout=5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._open.append(client)
                if self._frozen.is_set():
                    self._held.append(client)  # accepted, never answered
                    continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = self._connect_upstream()
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._open.append(server)
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        import select

        try:
            while not self._stop.is_set():
                if self._frozen.is_set():
                    time.sleep(0.02)  # not reading: the bytes wait in the kernel's buffer
                    continue
                ready, _, _ = select.select([src], [], [], 0.05)
                if not ready or self._frozen.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> FreezingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def proxied_database_url(url: str, proxy: FreezingProxy) -> str:
    """``url`` with its server replaced by ``proxy`` (TCP on 127.0.0.1)."""
    with psycopg.connect(_plain(url)) as conn:
        user, dbname = conn.info.user, conn.info.dbname
    return f"postgresql://{user}@127.0.0.1:{proxy.port}/{dbname}"


def database_upstream(url: str) -> str | tuple[str, int]:
    """Where the server of ``url`` listens: a Unix socket path or (host, port)."""
    with psycopg.connect(_plain(url)) as conn:
        host, port = conn.info.host, conn.info.port
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, int(port))


def declare_incident(
    engine: Engine, title: str, *, severity: str = "P2", rule_id: str | None = None
) -> int:
    """Declare an incident through the action (as the CLI user); with ``rule_id`` it is linked
    to a fresh alert of that rule. Returns its id."""
    from sqlalchemy import text

    from dashboard.actions import incidents
    from dashboard.actions.base import cli_actor

    done = incidents.declare(
        engine,
        cli_actor(),
        title=title,
        severity=severity,
        request_key=secrets.token_hex(8),
        rule_id=rule_id,
        alert_key=f"{rule_id}:{secrets.token_hex(3)}" if rule_id else None,
    )
    assert done.outcome == "changed", done
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM incidents WHERE title = :t ORDER BY id DESC LIMIT 1"),
                {"t": title},
            ).scalar_one()
        )

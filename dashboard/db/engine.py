"""The engine factory: one engine per URL per process, short timeouts, pre-ping."""

from __future__ import annotations

import socket
import struct
from functools import lru_cache

from sqlalchemy import Engine, create_engine, make_url

from dashboard import telemetry
from dashboard.settings import get_settings, to_sqlalchemy_url


@lru_cache(maxsize=8)
def make_engine(
    url: str | None = None,
    *,
    pool_size: int | None = None,
    statement_timeout_ms: int | None = None,
    connect_timeout_s: float | None = None,
) -> Engine:
    """An engine for ``url`` (default: settings), cached so each process has one pool per URL.

    Every connection carries a statement timeout, so a slow query cannot hold a page or the
    worker forever; a connect timeout, so a dead server answers within seconds; TCP keepalives
    and ``tcp_user_timeout``, so a server that stops answering mid-connection (a partition)
    breaks the connection instead of leaving it waiting for the kernel's defaults; and an
    ``idle_in_transaction_session_timeout``, so a leaked open transaction is ended by the
    server instead of holding back VACUUM. All of them come from settings.
    """
    settings = get_settings()
    target = to_sqlalchemy_url(url) if url else settings.sqlalchemy_url
    timeout_ms = statement_timeout_ms or settings.db_statement_timeout_ms
    idle_tx_ms = round(settings.db_idle_in_transaction_timeout_s * 1000)
    options = (
        f"-c statement_timeout={int(timeout_ms)} -c timezone=UTC"
        f" -c idle_in_transaction_session_timeout={idle_tx_ms}"
    )
    engine = create_engine(
        target,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={
            "connect_timeout": max(1, round(connect_timeout_s or settings.db_connect_timeout_s)),
            "options": options,
            "application_name": "orca-dashboard",
            # Ignored on Unix sockets (the embedded server); on TCP they bound a dead peer.
            "keepalives": 1,
            "keepalives_idle": settings.db_keepalives_idle_s,
            "keepalives_interval": settings.db_keepalives_interval_s,
            "keepalives_count": settings.db_keepalives_count,
            "tcp_user_timeout": settings.db_tcp_user_timeout_ms,
        },
    )
    telemetry.instrument_engine(engine)  # one span and one timing per statement
    return engine


# An SSLRequest packet: any live postmaster answers it with one byte ('S' or 'N') before
# authentication, so it tells "alive but busy" from "not answering" without a login.
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def server_answers(url: str, *, timeout_s: float = 0.5) -> bool:
    """True when the PostgreSQL server of ``url`` answers a pre-login request within ``timeout_s``.

    A query that runs long on a live server and a server that stopped answering (frozen,
    partitioned) look the same to the waiting client; this asks the server directly.
    """
    parsed = make_url(to_sqlalchemy_url(url))
    raw_host = parsed.query.get("host") or parsed.host or "localhost"
    host = raw_host if isinstance(raw_host, str) else raw_host[0]
    raw_port = parsed.query.get("port") or parsed.port or 5432
    port = int(raw_port if isinstance(raw_port, str | int) else raw_port[0])
    try:
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout_s)
            sock.connect(f"{host}/.s.PGSQL.{port}")
        else:
            sock = socket.create_connection((host, port), timeout=timeout_s)
        with sock:
            sock.settimeout(timeout_s)
            sock.sendall(_SSL_REQUEST)
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False

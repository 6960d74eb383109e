"""The engine factory: one engine per URL per process, short timeouts, pre-ping."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine

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
    worker forever, and a connect timeout, so a dead server answers within seconds.
    """
    settings = get_settings()
    target = to_sqlalchemy_url(url) if url else settings.sqlalchemy_url
    timeout_ms = statement_timeout_ms or settings.db_statement_timeout_ms
    return create_engine(
        target,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={
            "connect_timeout": max(1, round(connect_timeout_s or settings.db_connect_timeout_s)),
            "options": f"-c statement_timeout={int(timeout_ms)} -c timezone=UTC",
            "application_name": "orca-dashboard",
        },
    )

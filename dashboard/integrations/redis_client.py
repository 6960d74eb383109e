"""Redis connections with short timeouts, and the one place Redis key names are spelled."""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.settings import get_settings

PREFIX = "orca"


def key(purpose: str, *parts: str | int) -> str:
    """``orca:<purpose>:<id>...``: every Redis key of the project is built here."""
    return ":".join([PREFIX, purpose, *(str(p) for p in parts)])


@lru_cache(maxsize=8)
def make_redis(url: str | None = None, *, timeout_s: float | None = None) -> redis.Redis:
    """A client for ``url`` (default: settings). Short timeouts: a dead Redis answers fast.

    No retries: redis-py retries timeouts three times with backoff by default, which turns a
    frozen Redis's 0.5 s timeout into several seconds per command. Callers degrade instead.
    """
    settings = get_settings()
    target = url or settings.redis_url
    if not target:
        raise RuntimeError(
            "ORCA_REDIS_URL is not set; run `orca-dashboard up` to start the embedded Redis, "
            "or set it to your server"
        )
    timeout = timeout_s or settings.redis_timeout_s
    return redis.Redis.from_url(
        target,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=settings.redis_health_check_interval_s,
        retry=Retry(NoBackoff(), 0),
    )

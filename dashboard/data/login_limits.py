"""Failed sign-ins per client address in Redis: count them, and block an address that guesses.

Shared by every console replica (one Redis). Keys hold a hash of the address, never the
address itself. Redis being down must not stop sign-in, so every function fails open (the
per-user limit in PostgreSQL still holds) and says so in the log.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import cast

import redis

from dashboard.integrations.redis_client import key

log = logging.getLogger(__name__)


def _client_id(client: str) -> str:
    return hashlib.sha256(client.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_blocked_until(conn: redis.Redis, client: str, *, now: datetime) -> datetime | None:
    """When the block on ``client`` ends, or None when it is not blocked (or Redis is down)."""
    try:
        raw = cast(bytes | None, conn.get(key("login_block", _client_id(client))))
    except redis.RedisError:
        log.warning("Redis unreachable: the per-client sign-in limit is not checked")
        return None
    if raw is None:
        return None
    until = datetime.fromtimestamp(float(raw), now.tzinfo)
    return until if until > now else None


def record_client_failure(
    conn: redis.Redis,
    client: str,
    *,
    now: datetime,
    window: timedelta,
    limit: int,
    block_for: timedelta,
) -> datetime | None:
    """Count one failed sign-in from ``client``; block it at the ``limit``-th within ``window``.

    Returns the end of the new block when this failure started one, else None.
    """
    cid = _client_id(client)
    failures = key("login_failures", cid)
    stamp = now.timestamp()
    try:
        pipe = conn.pipeline(transaction=True)
        pipe.zadd(failures, {f"{stamp:.6f}": stamp})
        pipe.zremrangebyscore(failures, "-inf", stamp - window.total_seconds())
        pipe.zcard(failures)
        pipe.expire(failures, int(window.total_seconds()) + 1)
        count = int(pipe.execute()[2])
        if count < limit:
            return None
        until = now + block_for
        pipe = conn.pipeline(transaction=True)
        pipe.set(key("login_block", cid), str(until.timestamp()), px=int(block_for / _MS))
        pipe.delete(failures)
        pipe.execute()
    except redis.RedisError:
        log.warning("Redis unreachable: a failed sign-in was not counted for its client")
        return None
    return until


def clear_client(conn: redis.Redis, client: str) -> bool:
    """Lift the block and forget the failures of ``client``; True when it was blocked."""
    cid = _client_id(client)
    try:
        removed = cast(int, conn.delete(key("login_block", cid)))
        conn.delete(key("login_failures", cid))
    except redis.RedisError:
        log.warning("Redis unreachable: a client block could not be lifted")
        return False
    return removed > 0


_MS = timedelta(milliseconds=1)

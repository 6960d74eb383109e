"""Live state in Redis: the worker writes the latest probe results, heartbeat and KPIs; pages read.

Reads never raise: a Redis error gives a LiveRead with degraded=True, so a page can say
"live state unavailable" and carry on with history from PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import redis

from dashboard.integrations.redis_client import key

PROBES_KEY = key("live", "probes")
HEARTBEAT_KEY = key("worker", "heartbeat")
# Live values older than this are shown as stale; the key also expires so dead workers show.
LIVE_TTL_S = 600


@dataclass(frozen=True)
class LiveRead:
    """A live value with its age in seconds (None when absent) and whether Redis failed."""

    value: Any
    age_s: float | None
    degraded: bool = False
    error: str | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _write(client: redis.Redis, name: str, value: Any) -> bool:
    """Store ``value`` with the write time; False (never an exception) when Redis fails."""
    payload = json.dumps({"at": time.time(), "value": value}, default=_json_default)
    try:
        client.set(name, payload, ex=LIVE_TTL_S)
    except (redis.RedisError, OSError):
        return False
    return True


def _read(client: redis.Redis, name: str) -> LiveRead:
    try:
        raw = cast(bytes | None, client.get(name))
    except (redis.RedisError, OSError) as exc:
        return LiveRead(
            None, None, degraded=True, error=f"Redis unavailable: {exc.__class__.__name__}"
        )
    if raw is None:
        return LiveRead(None, None)
    try:
        data = json.loads(raw)
        return LiveRead(data["value"], max(0.0, time.time() - float(data["at"])))
    except (ValueError, KeyError, TypeError):
        return LiveRead(None, None, error="unreadable live value")


def write_probe_results(client: redis.Redis, results: Mapping[str, Mapping[str, Any]]) -> bool:
    """Latest result per component: {component: {status, latency_ms, message, checked_at}}."""
    return _write(client, PROBES_KEY, dict(results))


def read_probe_results(client: redis.Redis) -> LiveRead:
    return _read(client, PROBES_KEY)


def write_heartbeat(client: redis.Redis, info: Mapping[str, Any]) -> bool:
    return _write(client, HEARTBEAT_KEY, dict(info))


def read_heartbeat(client: redis.Redis) -> LiveRead:
    return _read(client, HEARTBEAT_KEY)

"""Injected faults of the ORCA Core stand-in, kept in Redis so the CLI, the Drill page and the
stand-in share them: key ``orca:chaos:<fault>``, TTL = the fault's duration, value JSON.

A fault ends by itself when its key expires; :func:`clear_fault` ends it early. Everything a
user types (fault name, duration, parameters) is validated here with plain-words ValueErrors.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import redis

from dashboard.domain.enums import DiscoverySource, values
from dashboard.integrations.redis_client import key
from dashboard.sim.vocab import ENDPOINTS

#: Every ORCA Core route (template) of request_metrics: the simulated traffic's endpoints.
ROUTES: Final[tuple[str, ...]] = tuple(dict.fromkeys(route for _, route, _, _ in ENDPOINTS))
API_ROUTES: Final[tuple[str, ...]] = tuple(r for r in ROUTES if r != "/health")
MAX_DURATION: Final = timedelta(hours=24)
MIN_DURATION: Final = timedelta(seconds=1)
MAX_LEAKED_CONNECTIONS: Final = 60


@dataclass(frozen=True)
class FaultSpec:
    """A fault the stand-in knows: what it does, and its parameters with defaults."""

    name: str
    summary: str
    defaults: Mapping[str, Any]


FAULTS: Final[dict[str, FaultSpec]] = {
    spec.name: spec
    for spec in (
        FaultSpec(
            "error_spike",
            "a share of requests to the chosen routes fail with HTTP 500",
            {"routes": list(API_ROUTES), "rate": 0.3},
        ),
        FaultSpec(
            "latency_spike",
            "requests to the chosen routes take longer by `ms` milliseconds",
            {"routes": list(ROUTES), "ms": 1500},
        ),
        FaultSpec("health_down", "GET /health answers 503 unhealthy", {}),
        FaultSpec("health_hang", "GET /health never answers (until the fault ends)", {}),
        FaultSpec(
            "crash",
            "the stand-in process exits at once (and again on each restart while active)",
            {},
        ),
        FaultSpec(
            "trust_collapse",
            "trust scores of most active agents fall, driving the Trust Score below 50",
            {"share": 0.35},
        ),
        FaultSpec(
            "sync_stall",
            "data sources stop syncing (all, or the chosen integration sources)",
            {"sources": list(values(DiscoverySource))},
        ),
        FaultSpec(
            "drift_wave",
            "a wave of drift detections across active agents (drift rate above 15 %)",
            {"share": 0.08},
        ),
        FaultSpec(
            "collector_down",
            "the OpenTelemetry Collector stand-in answers 503: health fails, exports are refused",
            {},
        ),
        FaultSpec(
            "db_connection_leak",
            "the stand-in holds `connections` idle database connections",
            {"connections": 25},
        ),
    )
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def fault_key(name: str) -> str:
    return key("chaos", name)


def parse_duration(value: str | float | timedelta) -> timedelta:
    """``30s``, ``10m``, ``1h`` (or seconds, or a timedelta), between 1 s and 24 h."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int | float):
        duration = timedelta(seconds=float(value))
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(
                f"cannot read the duration {value[:30]!r}: use a number with s, m or h, "
                "such as 30s, 10m or 1h"
            )
        unit = (match.group(2) or "s").lower()
        duration = timedelta(seconds=float(match.group(1)) * _UNIT_S[unit])
    if duration < MIN_DURATION:
        raise ValueError("a fault must last at least 1 second")
    if duration > MAX_DURATION:
        raise ValueError("a fault can last at most 24 hours (24h)")
    return duration


def _number(name: str, value: Any, lo: float, hi: float, *, whole: bool = False) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if not lo <= number <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}")
    if whole and number != int(number):
        raise ValueError(f"{name} must be a whole number")
    return number


def _choices(name: str, value: Any, allowed: Sequence[str]) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(f"{name} must name at least one of: {', '.join(allowed)}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or item not in allowed:
            raise ValueError(
                f"unknown {name[:-1] if name.endswith('s') else name} {str(item)[:40]!r}; "
                f"use {', '.join(allowed)}"
            )
        if item not in out:
            out.append(item)
    return out


def validate_params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fault's parameters, defaults filled in; ValueError on unknown or bad ones."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name[:40]!r}; known faults: {', '.join(FAULTS)}")
    spec = FAULTS[name]
    given = {k: v for k, v in (params or {}).items() if v is not None}
    unknown = sorted(set(given) - set(spec.defaults))
    if unknown:
        known = ", ".join(spec.defaults) or "none"
        raise ValueError(f"{name} takes no parameter {unknown[0]!r} (its parameters: {known})")
    out = {**spec.defaults, **given}
    if "routes" in out:
        out["routes"] = _choices("routes", out["routes"], ROUTES)
    if "sources" in out:
        out["sources"] = _choices("sources", out["sources"], values(DiscoverySource))
    if "rate" in out:
        out["rate"] = _number("rate", out["rate"], 0.01, 1.0)
    if "ms" in out:
        out["ms"] = int(_number("ms", out["ms"], 1, 30_000, whole=True))
    if "share" in out:
        out["share"] = _number("share", out["share"], 0.01, 1.0)
    if "connections" in out:
        out["connections"] = int(
            _number("connections", out["connections"], 1, MAX_LEAKED_CONNECTIONS, whole=True)
        )
    return out


@dataclass(frozen=True)
class ActiveFault:
    """A fault in force: its parameters, when it started and how long it still runs."""

    name: str
    params: dict[str, Any]
    started_at: datetime
    ends_at: datetime
    remaining_s: float
    by: str | None = None


def inject_fault(
    client: redis.Redis,
    name: str,
    duration: str | float | timedelta,
    params: Mapping[str, Any] | None = None,
    *,
    by: str | None = None,
) -> ActiveFault:
    """Start (or restart, with the new duration and parameters) fault ``name``."""
    clean = validate_params(name, params)
    span = parse_duration(duration)
    started = datetime.now(UTC)
    ends = started + span
    who = str(by)[:200] if by else None
    payload = {
        "params": clean,
        "started_at": started.isoformat(),
        "ends_at": ends.isoformat(),
        "by": who,
    }
    client.set(fault_key(name), json.dumps(payload), px=int(span.total_seconds() * 1000))
    return ActiveFault(name, clean, started, ends, span.total_seconds(), who)


def clear_fault(client: redis.Redis, name: str | None = None) -> list[str]:
    """End fault ``name`` (or every fault) now; returns the names that were active."""
    if name is not None and name not in FAULTS:
        raise ValueError(f"unknown fault {name[:40]!r}; known faults: {', '.join(FAULTS)}")
    names = [name] if name is not None else list(FAULTS)
    pipe = client.pipeline()
    for n in names:
        pipe.delete(fault_key(n))
    deleted = pipe.execute()
    return [n for n, d in zip(names, deleted, strict=True) if d]


def _parse(name: str, raw: bytes | None, ttl_ms: int) -> ActiveFault | None:
    if raw is None or ttl_ms == -2:
        return None
    try:
        data = json.loads(raw)
        params = dict(data.get("params") or {})
        started = datetime.fromisoformat(data["started_at"])
        ends = datetime.fromisoformat(data["ends_at"])
        by = data.get("by")
    except (ValueError, KeyError, TypeError, AttributeError):
        # A hand-written key still counts as active, with the fault's defaults.
        params = dict(FAULTS[name].defaults)
        started = datetime.now(UTC)
        ends = started + timedelta(milliseconds=max(ttl_ms, 0))
        by = None
    remaining = (
        max(0.0, ttl_ms / 1000.0) if ttl_ms >= 0 else (ends - datetime.now(UTC)).total_seconds()
    )
    return ActiveFault(name, params, started, ends, max(0.0, remaining), by)


def list_faults(client: redis.Redis) -> list[ActiveFault]:
    """The faults in force now, in the order of :data:`FAULTS`."""
    names = list(FAULTS)
    pipe = client.pipeline()
    for n in names:
        pipe.get(fault_key(n))
        pipe.pttl(fault_key(n))
    replies = pipe.execute()
    out: list[ActiveFault] = []
    for i, n in enumerate(names):
        fault = _parse(n, cast(bytes | None, replies[2 * i]), int(replies[2 * i + 1]))
        if fault is not None:
            out.append(fault)
    return out


class FaultView:
    """The stand-in's cached read of the active faults (one Redis round trip per ``ttl_s``).

    If Redis cannot be read the stand-in runs without faults: chaos must never be the reason
    the stand-in itself fails.
    """

    def __init__(self, client: redis.Redis, *, ttl_s: float = 0.5) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self._at = -1e9
        self._faults: dict[str, ActiveFault] = {}
        self.last_error: str | None = None

    def active(self) -> dict[str, ActiveFault]:
        now = time.monotonic()
        if now - self._at >= self.ttl_s:
            try:
                self._faults = {f.name: f for f in list_faults(self.client)}
                self.last_error = None
            except redis.RedisError as exc:
                self._faults = {}
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._at = now
        return self._faults

    def get(self, name: str) -> ActiveFault | None:
        return self.active().get(name)

"""A shared Redis cache with TTL and single-flight in front of expensive aggregates.

However many viewers and console replicas ask, PostgreSQL answers one query per key per TTL:
the first caller takes a short lock (SET NX PX) and computes, the others poll for its value and
compute themselves only if it has not arrived within ``wait_s``. Values are serialised without
pickle (a shared cache must not be a code-execution path): DataFrames as parquet, frozen
dataclasses through a registry of allowed classes, JSON otherwise. When Redis is down or slow
the caller computes directly and the result says ``degraded=True``; nothing Redis does raises
into the caller. An exception from ``compute`` itself propagates unchanged (and is never
retried here, so a failing query runs once per call).

Topics version the cache: a value computed from, say, the agents table is stored under a name
that carries the current generation of the topic ``agents`` (one Redis counter shared by every
console replica and the worker). An action bumps the counter right after its commit
(:func:`bump_topics`), so every later read, on any replica, misses the old value and computes
the new state; the old entries simply expire with their TTL.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

import numpy as np
import pandas as pd
import redis

from dashboard.integrations.redis_client import key

log = logging.getLogger(__name__)
T = TypeVar("T")
_REGISTRY: dict[str, type[Any]] = {}
# Errors meaning "Redis is unavailable": redis-py wraps socket failures in RedisError.
_REDIS_DOWN = (redis.RedisError, OSError)
# Deletes the lock only if it still holds our token (it may have expired and been re-taken).
_RELEASE_LUA = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def register(cls: type[T]) -> type[T]:
    """Allow a dataclass to travel through the cache (rebuilt by name, never by pickle)."""
    _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def _encode(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        buf = io.BytesIO()
        value.to_parquet(buf, index=False)
        return {"__df__": base64.b64encode(buf.getvalue()).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if name not in _REGISTRY:
            raise TypeError(f"{name} is not registered for the shared cache")
        return {
            "__dc__": name,
            "fields": {
                f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
            },
        }
    if isinstance(value, datetime):
        return {"__dt__": value.isoformat()}
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"__map__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{type(value).__name__} values cannot go through the shared cache")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__df__" in value:
            return pd.read_parquet(io.BytesIO(base64.b64decode(value["__df__"])))
        if "__dc__" in value:
            cls = _REGISTRY[value["__dc__"]]  # KeyError: unknown class, treated as a miss
            return cls(**{k: _decode(v) for k, v in value["fields"].items()})
        if "__dt__" in value:
            return datetime.fromisoformat(value["__dt__"])
        if "__date__" in value:
            return date.fromisoformat(value["__date__"])
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        if "__map__" in value:
            return {_freeze(_decode(k)): _decode(v) for k, v in value["__map__"]}
        raise ValueError("unknown cache envelope")
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _freeze(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def dumps(value: Any) -> bytes:
    """Serialise a cacheable value (DataFrame, registered dataclass, JSON-like) to bytes."""
    return json.dumps(_encode(value), allow_nan=True).encode()


def loads(data: bytes) -> Any:
    """The inverse of :func:`dumps`; never unpickles anything."""
    return _decode(json.loads(data))


@dataclass(frozen=True)
class CacheResult(Generic[T]):
    """A value, when it was computed, whether it came from Redis, whether Redis failed."""

    value: T
    computed_at: datetime
    from_cache: bool
    degraded: bool = False


#: The shortest TTL a value can have (Redis PX counts milliseconds).
MIN_TTL_S = 0.001


def topic_key(topic: str) -> str:
    """The Redis counter of ``topic`` (``orca:gen:<topic>``)."""
    return key("gen", topic)


AGENT_TOPICS = ("agents",)
"""Shared-cache topics an agent status change makes stale (registry counts, lists, Trust KPIs)."""


def bump_topics(client: redis.Redis, topics: Sequence[str]) -> bool:
    """Start a new generation of each topic (call after the change committed).

    False, with a log line, when Redis cannot be reached: the entries then age out with their
    TTL, as they did before topics existed. Never raises for Redis.
    """
    if not topics:
        return True
    try:
        with client.pipeline(transaction=False) as pipe:
            for topic in topics:
                pipe.incr(topic_key(topic))
            pipe.execute()
    except _REDIS_DOWN as exc:
        log.warning("could not bump cache topics %s (%s)", list(topics), type(exc).__name__)
        return False
    return True


def _ttl_ms(ttl_s: float) -> int:
    return max(1, round(ttl_s * 1000))


class SharedCache:
    """get_or_compute(key, ttl, fn) with a Redis lock so one caller computes per key and TTL."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str = "q",
        lock_timeout_s: float = 20.0,
        wait_s: float = 10.0,
        poll_s: float = 0.05,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.lock_timeout_s = lock_timeout_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.hits = 0
        self.misses = 0
        self.degraded_calls = 0
        self._counter_lock = threading.Lock()

    def _count(self, attr: str) -> None:
        with self._counter_lock:
            setattr(self, attr, getattr(self, attr) + 1)

    def stats(self) -> dict[str, int]:
        """Hits, misses (computations) and degraded calls since this object was made."""
        return {"hits": self.hits, "misses": self.misses, "degraded": self.degraded_calls}

    def _keys(self, name: str) -> tuple[str, str]:
        return key("cache", self.namespace, name), key("lock", self.namespace, name)

    def _get(self, value_key: str) -> tuple[Any, datetime] | None:
        """The cached value and its time; None on a miss or an unreadable value.

        Redis errors propagate (the caller degrades); a value this version cannot read (an
        older format, an unregistered class) is a miss, not a crash.
        """
        raw = cast(bytes | None, self.client.get(value_key))
        if raw is None:
            return None
        try:
            envelope = json.loads(raw)
            return _decode(envelope["v"]), datetime.fromisoformat(envelope["at"])
        except Exception as exc:  # any unreadable value is just a miss
            log.warning("unreadable shared-cache value (%s); recomputing", type(exc).__name__)
            return None

    def _store(self, value_key: str, value: Any, at: datetime, ttl_s: float) -> bool:
        """Save a computed value; False (and a log line) when it cannot be saved."""
        try:
            payload = json.dumps({"at": at.isoformat(), "v": _encode(value)})
        except (TypeError, ValueError) as exc:
            log.warning("value for %s cannot be cached: %s", value_key, exc)
            return True  # Redis is fine; this value just is not shareable
        try:
            # PX: fractional TTLs hold (tests expire values in milliseconds, not seconds).
            self.client.set(value_key, payload, px=_ttl_ms(ttl_s))
        except _REDIS_DOWN as exc:
            log.warning("shared cache write failed (%s)", type(exc).__name__)
            return False
        return True

    def _release(self, lock_key: str, token: str) -> None:
        # On failure the lock simply expires after lock_timeout_s.
        with contextlib.suppress(*_REDIS_DOWN):
            self.client.eval(_RELEASE_LUA, 1, lock_key, token)

    def _degraded(self, compute: Callable[[], T], exc: BaseException) -> CacheResult[T]:
        log.warning("shared cache degraded (%s); computing directly", type(exc).__name__)
        self._count("degraded_calls")
        self._count("misses")
        at = datetime.now(UTC)
        return CacheResult(compute(), at, from_cache=False, degraded=True)

    def _hit(self, found: tuple[Any, datetime]) -> CacheResult[Any]:
        self._count("hits")
        return CacheResult(found[0], found[1], from_cache=True)

    def versioned(self, name: str, topics: Sequence[str]) -> str:
        """``name`` with the current generation of each topic (one MGET); Redis errors raise."""
        if not topics:
            return name
        raw = cast(list[bytes | None], self.client.mget([topic_key(t) for t in topics]))
        return name + "@" + ".".join(v.decode() if v else "0" for v in raw)

    def get_or_compute(
        self,
        name: str,
        ttl_s: float,
        compute: Callable[[], T],
        *,
        topics: Sequence[str] = (),
    ) -> CacheResult[T]:
        """The cached value of ``name``, or ``compute()`` run once for all concurrent callers.

        ``topics`` name what the value is computed from: after :func:`bump_topics` on any of
        them, the old value is never returned again.
        """
        if not name or len(name) > 500:
            raise ValueError("cache key names have 1 to 500 characters")
        if ttl_s < MIN_TTL_S:
            raise ValueError("ttl_s must be at least one millisecond")
        try:
            # The generation is read before computing: a value computed from pre-change data
            # can only ever be stored under the old generation, which no one reads any more.
            value_key, lock_key = self._keys(self.versioned(name, topics))
            found = self._get(value_key)
        except _REDIS_DOWN as exc:
            return self._degraded(compute, exc)
        if found is not None:
            return self._hit(found)
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                locked = self.client.set(
                    lock_key, token, nx=True, px=max(1, int(self.lock_timeout_s * 1000))
                )
                found = self._get(value_key)  # a holder may have finished meanwhile
            except _REDIS_DOWN as exc:
                return self._degraded(compute, exc)
            if locked:
                try:
                    if found is not None:
                        return self._hit(found)
                    self._count("misses")
                    at = datetime.now(UTC)
                    value = compute()
                    stored = self._store(value_key, value, at, ttl_s)
                    return CacheResult(value, at, from_cache=False, degraded=not stored)
                finally:
                    self._release(lock_key, token)
            if found is not None:
                return self._hit(found)
            if time.monotonic() > deadline:
                # The computing caller is slow or gone: answer rather than wait forever.
                self._count("misses")
                at = datetime.now(UTC)
                value = compute()
                stored = self._store(value_key, value, at, ttl_s)
                return CacheResult(value, at, from_cache=False, degraded=not stored)
            time.sleep(self.poll_s)

    def invalidate(self, name: str) -> bool:
        """Forget the cached value of ``name``; False when Redis could not be reached."""
        value_key, _ = self._keys(name)
        try:
            self.client.delete(value_key)
        except _REDIS_DOWN:
            return False
        return True

    # -- refresh-ahead (dashboard.data.panels): the worker renews entries before they expire --
    def peek(self, name: str) -> Any | None:
        """The cached value of ``name``, or None (a miss, an unreadable value, Redis down)."""
        value_key, _ = self._keys(name)
        try:
            found = self._get(value_key)
        except _REDIS_DOWN:
            return None
        return None if found is None else found[0]

    def ttl_left_s(self, name: str) -> float | None:
        """Seconds until ``name`` expires; None when it is missing or Redis cannot say."""
        value_key, _ = self._keys(name)
        try:
            left = int(cast(int, self.client.pttl(value_key)))
        except _REDIS_DOWN:
            return None
        return None if left < 0 else left / 1000

    def refresh(self, name: str, ttl_s: float, compute: Callable[[], Any]) -> bool:
        """Compute ``name`` now and store it with a fresh TTL, under the single-flight lock.

        False when another caller holds the lock (it is computing the value already) or Redis
        is unreachable; an exception from ``compute`` propagates. Viewers keep reading the
        old value until the new one is stored.
        """
        if ttl_s < MIN_TTL_S:
            raise ValueError("ttl_s must be at least one millisecond")
        value_key, lock_key = self._keys(name)
        token = secrets.token_hex(8)
        try:
            locked = self.client.set(
                lock_key, token, nx=True, px=max(1, int(self.lock_timeout_s * 1000))
            )
        except _REDIS_DOWN:
            return False
        if not locked:
            return False
        try:
            at = datetime.now(UTC)
            return self._store(value_key, compute(), at, ttl_s)
        finally:
            self._release(lock_key, token)


def panel_key(name: str, kwargs: dict[str, Any], database: str) -> str:
    """The cache name of one panel: its name and a digest of its arguments and database.

    The database is part of the key: consoles of two deployments may share one Redis. The
    page loaders and the worker's refresh-ahead both name entries through this function.
    """
    body = json.dumps({"db": database, **kwargs}, sort_keys=True, default=str)
    return f"{name}:{hashlib.sha256(body.encode()).hexdigest()[:24]}"

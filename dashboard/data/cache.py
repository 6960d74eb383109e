"""A shared Redis cache with TTL and single-flight in front of expensive aggregates.

However many viewers and console replicas ask, PostgreSQL answers one query per key per TTL:
the first caller takes a short lock and computes, the others wait for its value. Values are
serialised without pickle (a shared cache must not be a code-execution path): DataFrames as
parquet, frozen dataclasses through a registry, plain JSON otherwise. When Redis is down the
caller computes directly and is told the cache is degraded; nothing raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import pandas as pd
import redis

from dashboard.integrations.redis_client import key

log = logging.getLogger(__name__)
T = TypeVar("T")
_REGISTRY: dict[str, type[Any]] = {}


def register(cls: type[T]) -> type[T]:
    """Allow a frozen dataclass to travel through the cache (by name, never by pickle)."""
    _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def _encode(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        buf = io.BytesIO()
        value.to_parquet(buf, index=False)
        return {"__df__": buf.getvalue().hex()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if name not in _REGISTRY:
            raise TypeError(f"{name} is not registered for the shared cache")
        return {
            "__dc__": name,
            "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, datetime):
        return {"__dt__": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"__map__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__df__" in value:
            return pd.read_parquet(io.BytesIO(bytes.fromhex(value["__df__"])))
        if "__dc__" in value:
            cls = _REGISTRY[value["__dc__"]]
            return cls(**{k: _decode(v) for k, v in value["fields"].items()})
        if "__dt__" in value:
            return datetime.fromisoformat(value["__dt__"])
        if "__map__" in value:
            return {_decode(k): _decode(v) for k, v in value["__map__"]}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(_encode(value)).encode()


def loads(data: bytes) -> Any:
    return _decode(json.loads(data))


@dataclass(frozen=True)
class CacheResult(Generic[T]):
    value: T
    computed_at: datetime
    from_cache: bool
    degraded: bool = False


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

    def _keys(self, name: str) -> tuple[str, str]:
        return key("cache", self.namespace, name), key("lock", self.namespace, name)

    def _get(self, value_key: str) -> tuple[Any, datetime] | None:
        raw = cast(bytes | None, self.client.get(value_key))
        if raw is None:
            return None
        envelope = json.loads(raw)
        return _decode(envelope["v"]), datetime.fromisoformat(envelope["at"])

    def _set(self, value_key: str, value: Any, at: datetime, ttl_s: int) -> None:
        payload = json.dumps({"at": at.isoformat(), "v": _encode(value)})
        self.client.set(value_key, payload, ex=ttl_s)

    def get_or_compute(self, name: str, ttl_s: int, compute: Callable[[], T]) -> CacheResult[T]:
        if len(name) > 500:
            raise ValueError("cache key names have at most 500 characters")
        value_key, lock_key = self._keys(name)
        try:
            found = self._get(value_key)
            if found is not None:
                self.hits += 1
                return CacheResult(found[0], found[1], from_cache=True)
            token = secrets.token_hex(8)
            deadline = time.monotonic() + self.wait_s
            while True:
                if self.client.set(lock_key, token, nx=True, px=int(self.lock_timeout_s * 1000)):
                    try:
                        found = self._get(value_key)  # someone finished while we queued
                        if found is not None:
                            self.hits += 1
                            return CacheResult(found[0], found[1], from_cache=True)
                        self.misses += 1
                        at = datetime.now(UTC)
                        value = compute()
                        self._set(value_key, value, at, ttl_s)
                        return CacheResult(value, at, from_cache=False)
                    finally:
                        # Release only our own lock (it may have expired and been re-taken).
                        if self.client.get(lock_key) == token.encode():
                            self.client.delete(lock_key)
                time.sleep(self.poll_s)
                found = self._get(value_key)
                if found is not None:
                    self.hits += 1
                    return CacheResult(found[0], found[1], from_cache=True)
                if time.monotonic() > deadline:
                    # The computing caller is slow or gone: answer rather than wait forever.
                    self.misses += 1
                    at = datetime.now(UTC)
                    return CacheResult(compute(), at, from_cache=False)
        except (redis.RedisError, OSError) as exc:
            log.warning("shared cache degraded (%s); computing directly", exc.__class__.__name__)
            self.degraded_calls += 1
            return CacheResult(compute(), datetime.now(UTC), from_cache=False, degraded=True)

    def invalidate(self, name: str) -> None:
        value_key, _ = self._keys(name)
        with contextlib.suppress(redis.RedisError):
            self.client.delete(value_key)

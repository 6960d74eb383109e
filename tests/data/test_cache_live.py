"""Shared cache (single-flight, TTL, degraded mode) and live state, on a real Redis."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pandas as pd
import redis

from dashboard.data import live
from dashboard.data.cache import SharedCache, dumps, loads
from dashboard.data.kpis import KpiSummary

DEAD = "redis://127.0.0.1:1/0"


def test_single_flight_computes_once(redis_client: redis.Redis) -> None:
    cache = SharedCache(redis_client, namespace="t1")
    calls = []

    def compute() -> pd.DataFrame:
        calls.append(1)
        time.sleep(0.3)
        return pd.DataFrame({"a": [1, 2]})

    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", 30, compute)))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 20
    assert all(r.value["a"].tolist() == [1, 2] for r in results)  # type: ignore[attr-defined]
    assert sum(not r.from_cache for r in results) == 1  # type: ignore[attr-defined]


def test_ttl_expires(redis_client: redis.Redis) -> None:
    cache = SharedCache(redis_client, namespace="t2")
    n = iter(range(10))
    first = cache.get_or_compute("k", 1, lambda: next(n))
    again = cache.get_or_compute("k", 1, lambda: next(n))
    assert (first.value, again.value, again.from_cache) == (0, 0, True)
    time.sleep(1.1)
    assert cache.get_or_compute("k", 1, lambda: next(n)).value == 1


def test_redis_down_degrades_but_answers() -> None:
    client = redis.Redis.from_url(DEAD, socket_timeout=0.3, socket_connect_timeout=0.3)
    cache = SharedCache(client, namespace="t3")
    started = time.monotonic()
    result = cache.get_or_compute("k", 30, lambda: 42)
    assert result.value == 42 and result.degraded and not result.from_cache
    assert time.monotonic() - started < 2
    read = live.read_heartbeat(client)
    assert read.degraded and read.value is None and "Redis unavailable" in (read.error or "")
    assert live.write_heartbeat(client, {"x": 1}) is False


def test_roundtrip_without_pickle() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    summary = KpiSummary(80.0, "good", 10.0, 99.0, 3.0, 97.0, 5, 6, 1, 2, now)
    assert loads(dumps(summary)) == summary
    df = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01T00:00Z"]), "v": [1.5]})
    assert loads(dumps(df)).equals(df)
    assert b"pickle" not in dumps(summary)


def test_live_state_roundtrip(redis_client: redis.Redis) -> None:
    assert live.read_probe_results(redis_client).value is None
    live.write_probe_results(redis_client, {"redis": {"status": "up", "latency_ms": 1.0}})
    read = live.read_probe_results(redis_client)
    assert read.value == {"redis": {"status": "up", "latency_ms": 1.0}}
    assert read.age_s is not None and read.age_s < 5 and not read.degraded

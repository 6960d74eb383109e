"""Shared cache (single-flight, TTL, degraded mode) and live state, on a real Redis."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
import redis

from dashboard.data import live
from dashboard.data.agents import AgentPage
from dashboard.data.cache import SharedCache, dumps, loads
from dashboard.data.kpis import KpiSnapshotValues, KpiSummary, TrustDrivers
from dashboard.integrations.redis_client import key
from tests.harness import generous, wait_for

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
    ttl_s = 0.5  # the cache stores TTLs in milliseconds (PX): no second-long sleep
    first = cache.get_or_compute("k", ttl_s, lambda: next(n))
    again = cache.get_or_compute("k", ttl_s, lambda: next(n))
    assert (first.value, again.value, again.from_cache) == (0, 0, True)
    assert 0 < cast(int, redis_client.pttl(key("cache", "t2", "k"))) <= 500
    assert wait_for(lambda: not redis_client.exists(key("cache", "t2", "k")), timeout_s=5)
    assert cache.get_or_compute("k", ttl_s, lambda: next(n)).value == 1


def test_redis_down_degrades_but_answers() -> None:
    client = redis.Redis.from_url(DEAD, socket_timeout=0.3, socket_connect_timeout=0.3)
    cache = SharedCache(client, namespace="t3")
    started = time.monotonic()
    result = cache.get_or_compute("k", 30, lambda: 42)
    assert result.value == 42 and result.degraded and not result.from_cache
    assert time.monotonic() - started < generous(2)
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


def _hanging_redis() -> tuple[socket.socket, redis.Redis]:
    """A port that accepts connections and never answers: Redis hung, not down."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    # from_url, as make_redis builds clients: no retry with backoff (redis-py 7's constructor
    # default would retry three times, ~8 s per call against a hung server).
    client = redis.Redis.from_url(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.3, socket_connect_timeout=0.3
    )
    return server, client


def test_redis_hanging_degrades_within_timeout() -> None:
    server, client = _hanging_redis()
    try:
        cache = SharedCache(client, namespace="hang")
        started = time.monotonic()
        result = cache.get_or_compute("k", 30, lambda: "value")
        assert (result.value, result.degraded, result.from_cache) == ("value", True, False)
        for read in (live.read_heartbeat(client), live.read_probe_results(client)):
            assert read.degraded and read.value is None and read.age_s is None
        assert cache.invalidate("k") is False
        assert time.monotonic() - started < generous(5)
        assert cache.stats()["degraded"] == 1
    finally:
        server.close()


def test_compute_error_propagates_once_and_frees_the_lock(redis_client: redis.Redis) -> None:
    cache = SharedCache(redis_client, namespace="err", wait_s=5)
    calls: list[int] = []

    def boom() -> int:
        calls.append(1)
        raise OSError("database went away")  # an OSError must not look like "Redis down"

    with pytest.raises(OSError, match="went away"):
        cache.get_or_compute("k", 30, boom)
    assert len(calls) == 1
    started = time.monotonic()
    assert cache.get_or_compute("k", 30, lambda: 7).value == 7  # lock released: no wait
    assert time.monotonic() - started < generous(1)
    assert not redis_client.exists(key("lock", "err", "k"))


def test_unreadable_or_foreign_values_are_misses(redis_client: redis.Redis) -> None:
    cache = SharedCache(redis_client, namespace="bad")
    redis_client.set(key("cache", "bad", "junk"), b"\x80not json")
    redis_client.set(
        key("cache", "bad", "cls"),
        json.dumps({"at": "2026-01-01T00:00:00+00:00", "v": {"__dc__": "os.system", "fields": {}}}),
    )
    for name in ("junk", "cls"):
        result = cache.get_or_compute(name, 30, lambda: "fresh")
        assert (result.value, result.from_cache, result.degraded) == ("fresh", False, False)
        assert cache.get_or_compute(name, 30, lambda: "other").value == "fresh"


def test_unshareable_value_is_returned_not_cached(redis_client: redis.Redis) -> None:
    @dataclasses.dataclass(frozen=True)
    class Unregistered:
        x: int

    cache = SharedCache(redis_client, namespace="unreg")
    n = iter(range(10))
    first = cache.get_or_compute("k", 30, lambda: Unregistered(next(n)))
    second = cache.get_or_compute("k", 30, lambda: Unregistered(next(n)))
    assert (first.value.x, second.value.x) == (0, 1)
    assert not first.degraded


def test_waiters_compute_themselves_when_the_holder_is_gone(redis_client: redis.Redis) -> None:
    # A lock left by a crashed process (it expires only after lock_timeout_s).
    redis_client.set(key("lock", "gone", "k"), "someone-else", px=60_000)
    cache = SharedCache(redis_client, namespace="gone", wait_s=0.3)
    started = time.monotonic()
    result = cache.get_or_compute("k", 30, lambda: "mine")
    assert result.value == "mine" and not result.from_cache
    assert 0.3 <= time.monotonic() - started < generous(2)
    assert redis_client.get(key("lock", "gone", "k")) == b"someone-else"  # not ours to delete


def test_single_flight_across_clients(redis_url: str, redis_client: redis.Redis) -> None:
    # Separate clients (separate connection pools) behave like separate console replicas.
    caches = [SharedCache(redis.Redis.from_url(redis_url), namespace="multi") for _ in range(5)]
    calls: list[int] = []
    barrier = threading.Barrier(20)

    def compute() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.3)
        return {"n": 1}

    results: list[Any] = []

    def ask(i: int) -> None:
        barrier.wait()
        results.append(caches[i % 5].get_or_compute("k", 30, compute))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert [r.value for r in results] == [{"n": 1}] * 20
    assert sum(c.stats()["hits"] for c in caches) == 19


def test_roundtrip_of_data_layer_types() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    snap = KpiSnapshotValues(now, 80.0, 0.9, 0.8, 0.7, 0.3, 1e6, 99.0, 5.0, 95.0, 10, 12, 2)
    drivers = TrustDrivers(
        components=pd.DataFrame({"component": ["reliability"], "before": [0.9], "after": [0.8]}),
        agents=pd.DataFrame({"agent_id": pd.Series([], dtype="int64")}),
    )
    page = AgentPage(
        rows=pd.DataFrame({"id": [1], "trust_score": [float("nan")]}), next_cursor=None
    )
    for value in (
        snap,
        {"a": (1, 2), "b": [date(2026, 1, 2), None], "c": {"nested": True}},
        (np.int64(3), np.float64(1.5), Decimal("2.5")),
    ):
        decoded = loads(dumps(value))
        if isinstance(value, tuple):
            assert decoded == (3, 1.5, 2.5)
        else:
            assert decoded == value
    d = loads(dumps(drivers))
    assert d.components.equals(drivers.components) and d.agents.dtypes["agent_id"] == "int64"
    p = loads(dumps(page))
    assert isinstance(p, AgentPage) and np.isnan(p.rows["trust_score"].iloc[0])


def test_live_values_and_ages(redis_client: redis.Redis) -> None:
    at = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert live.write_probe_results(
        redis_client, {"orca_core": {"status": "up", "latency_ms": 3.5, "checked_at": at}}
    )
    read = live.read_probe_results(redis_client)
    assert read.value["orca_core"]["checked_at"] == at.isoformat()
    assert live.write_heartbeat(redis_client, {"pid": 1, "leader": True})
    beat = live.read_heartbeat(redis_client)
    assert beat.value == {"pid": 1, "leader": True} and 0 <= (beat.age_s or 0) < 5
    redis_client.set(live.HEARTBEAT_KEY, b"garbage")
    broken = live.read_heartbeat(redis_client)
    assert broken.value is None and not broken.degraded and broken.error
    assert cast(int, redis_client.ttl(live.PROBES_KEY)) > 0  # dead workers' state expires


def test_a_topic_bump_reaches_every_replica(redis_client: redis.Redis, redis_url: str) -> None:
    """Two caches on their own clients (two console processes): after a bump, neither one
    returns the value computed before it; without a bump both keep the cached value."""
    from dashboard.data.cache import bump_topics

    replica_a = SharedCache(redis.Redis.from_url(redis_url), namespace="topics")
    replica_b = SharedCache(redis.Redis.from_url(redis_url), namespace="topics")
    state = {"quarantined": 3}

    def count() -> int:
        return state["quarantined"]

    assert replica_b.get_or_compute("by_status", 60, count, topics=("agents",)).value == 3
    state["quarantined"] = 4  # committed, but nobody said so: both still answer from the cache
    assert replica_a.get_or_compute("by_status", 60, count, topics=("agents",)).value == 3
    assert replica_b.get_or_compute("by_status", 60, count, topics=("agents",)).from_cache
    assert bump_topics(replica_a.client, ["agents"])
    fresh = replica_b.get_or_compute("by_status", 60, count, topics=("agents",))
    assert (fresh.value, fresh.from_cache) == (4, False)
    assert replica_a.get_or_compute("by_status", 60, count, topics=("agents",)).from_cache
    # A value of another topic is untouched by the bump.
    other = replica_a.get_or_compute("sync", 60, lambda: "lag", topics=("sync",))
    assert bump_topics(replica_b.client, ["agents"])
    assert replica_b.get_or_compute("sync", 60, lambda: "new", topics=("sync",)).value == "lag"
    assert not other.from_cache


def test_a_bump_with_redis_down_is_quiet() -> None:
    from dashboard.data.cache import bump_topics

    dead = redis.Redis.from_url(DEAD, socket_connect_timeout=0.5)
    assert bump_topics(dead, ["agents"]) is False

"""Probes against real local peers that answer 200, 503, garbage, slowly, by drips, or never."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TypedDict

import pytest

from dashboard.domain.enums import CheckStatus
from dashboard.integrations.http import (
    MAX_RETRIES,
    Deadline,
    FetchError,
    get_with_retry,
    make_async_client,
    run_with_deadline,
)
from dashboard.integrations.probes import (
    ProbeOutcome,
    collector_probe,
    core_probe,
    default_probes,
    heartbeat_outcome,
    postgres_probe,
    redis_probe,
    run_probe_cycle,
    sync_probe,
)
from tests.core.support import (
    BlackHole,
    Peer,
    PeerHandler,
    Reply,
    drip_headers_reply,
    drip_reply,
    free_port,
    hang_reply,
    healthy_body,
    json_reply,
    peer,
    raw_reply,
    slow_reply,
)
from tests.harness import generous


class Timeouts(TypedDict):
    connect_timeout_s: float
    read_timeout_s: float


TIMEOUTS: Timeouts = {"connect_timeout_s": 1.0, "read_timeout_s": 2.0}


def _one(
    probe_url: str, *, deadline_s: float = 4.0, collector: bool = False
) -> tuple[str, str, float | None]:
    make = collector_probe if collector else core_probe
    [result] = run_probe_cycle([make(probe_url, **TIMEOUTS)], deadline_s=deadline_s)
    return result.status, result.message, result.latency_ms


@pytest.fixture(scope="module")
def peers() -> Iterator[dict[str, Peer]]:
    routes: dict[str, dict[str, Reply]] = {
        "healthy": {"/health": json_reply(200, healthy_body())},
        "unhealthy": {"/health": json_reply(503, healthy_body("unhealthy"))},
        "degraded": {"/health": json_reply(503, healthy_body("degraded"))},
        "bare503": {"/health": raw_reply(503, b"Service Unavailable")},
        "garbage": {"/health": raw_reply(200, b"<html>hello</html>")},
        "wrong_shape": {"/health": json_reply(200, {"status": "fine", "uptime": 3})},
        "error500": {"/health": json_reply(500, {"error": "boom"})},
        "slow": {"/health": slow_reply(1.3, json_reply(200, healthy_body()))},
        "drip": {"/health": drip_reply()},
        "drip_headers": {"/health": drip_headers_reply()},
        "hang": {"/health": hang_reply},
        "collector": {"/": json_reply(200, {"status": "Server available", "uptime": "1s"})},
        "collector503": {"/": json_reply(503, {"status": "Server not available"})},
    }
    servers = {name: Peer(r) for name, r in routes.items()}
    yield servers
    for server in servers.values():
        server.close()


def test_healthy_core_is_up_with_latency(peers: dict[str, Peer]) -> None:
    status, message, latency = _one(peers["healthy"].url + "/health")
    assert status == "up"
    assert message == "healthy, version 9.9.9"
    assert latency is not None and 0 < latency < 1000


@pytest.mark.parametrize(
    ("name", "status", "fragment"),
    [
        ("unhealthy", "down", "HTTP 503: unhealthy: database down"),
        ("degraded", "degraded", "HTTP 503: degraded"),
        ("bare503", "down", "HTTP 503 (the body is not JSON)"),
        ("garbage", "degraded", "answered 200 but the body is not JSON"),
        ("wrong_shape", "degraded", "answered 200 but unexpected shape"),
        ("error500", "down", "HTTP 500"),
        ("slow", "degraded", "slow: 13"),
    ],
)
def test_bad_answers_are_judged(
    peers: dict[str, Peer], name: str, status: str, fragment: str
) -> None:
    got_status, message, latency = _one(peers[name].url + "/health")
    assert got_status == status
    assert fragment in message
    assert latency is not None  # the peer answered: how fast is recorded


def test_health_503_is_not_retried(peers: dict[str, Peer]) -> None:
    before = peers["unhealthy"].hits.get("/health", 0)
    _one(peers["unhealthy"].url + "/health")
    assert peers["unhealthy"].hits["/health"] == before + 1


@pytest.mark.parametrize("name", ["hang", "drip", "drip_headers"])
def test_a_peer_that_never_finishes_is_down_timed_out_on_time(
    peers: dict[str, Peer], name: str
) -> None:
    started = time.monotonic()
    status, message, latency = _one(peers[name].url + "/health", deadline_s=1.0)
    took = time.monotonic() - started
    assert status == "down"
    assert message.startswith("timed out")
    assert latency is None
    assert took < generous(2.0), took


def test_black_hole_and_refused() -> None:
    hole = BlackHole()
    try:
        started = time.monotonic()
        status, message, _ = _one(hole.url + "/health", deadline_s=1.0)
        assert (status, message[:9]) == ("down", "timed out")
        assert time.monotonic() - started < generous(2.0)
    finally:
        hole.close()
    status, message, latency = _one(f"http://127.0.0.1:{free_port()}/health")
    assert status == "down"
    assert message == "connection refused (after 3 attempts)"
    assert latency is None


def test_collector_health(peers: dict[str, Peer]) -> None:
    assert _one(peers["collector"].url + "/", collector=True)[:2] == ("up", "Server available")
    status, message, _ = _one(peers["collector503"].url + "/", collector=True)
    assert (status, message) == ("down", "HTTP 503: Server not available")
    status, message, _ = _one(f"http://127.0.0.1:{free_port()}/", collector=True)
    assert status == "down" and message.startswith("connection refused")


def test_postgres_and_redis_probes(pg_server_url: str, redis_url: str) -> None:
    results = run_probe_cycle(
        [
            postgres_probe(pg_server_url, connect_timeout_s=1),
            redis_probe(redis_url, timeout_s=1),
            postgres_probe("postgresql://postgres@127.0.0.1:1/none", connect_timeout_s=1),
            redis_probe("redis://127.0.0.1:1/0", timeout_s=1),
        ],
        deadline_s=4,
    )
    assert [r.status for r in results] == ["up", "up", "down", "down"]
    assert results[0].latency_ms is not None and results[1].latency_ms is not None
    assert results[2].message == "connection refused"
    assert results[3].message == "connection refused"


def test_heartbeat_outcomes() -> None:
    assert heartbeat_outcome(5).status == "up"
    assert heartbeat_outcome(120).status == "degraded"
    assert heartbeat_outcome(1000).status == "down"
    assert heartbeat_outcome(None).message == "no heartbeat: is the worker running?"
    assert heartbeat_outcome(None, error="Redis unavailable").status == "down"


def test_full_cycle_against_every_bad_peer_ends_within_5_s(
    peers: dict[str, Peer], pg_server_url: str, redis_url: str
) -> None:
    """Defaults of settings (connect 1 s, read 2 s, deadline 4 s) and the worst peers at once."""

    def stuck_heartbeat() -> ProbeOutcome:  # a stuck sync check
        time.sleep(30)
        return heartbeat_outcome(1)

    hole = BlackHole()
    try:
        probes = default_probes(
            core_url=hole.url,
            otel_health_url=peers["drip"].url + "/health",
            database_url=pg_server_url,
            redis_url=redis_url,
            heartbeat=stuck_heartbeat,
            **TIMEOUTS,
        )
        probes.append(core_probe(peers["hang"].url + "/health", **TIMEOUTS))
        probes.append(core_probe(peers["drip_headers"].url + "/health", **TIMEOUTS))
        probes.append(core_probe(peers["healthy"].url + "/health", **TIMEOUTS))
        started = time.monotonic()
        results = run_probe_cycle(probes, deadline_s=4.0)
        took = time.monotonic() - started
    finally:
        hole.close()
    assert took < generous(5.0), took
    by = [(r.component, r.status) for r in results]
    assert by == [
        ("orca_core", "down"),
        ("otel_collector", "down"),
        ("postgresql", "up"),
        ("redis", "up"),
        ("worker", "down"),
        ("orca_core", "down"),
        ("orca_core", "down"),
        ("orca_core", "up"),
    ]
    assert all(r.message.startswith("timed out") for r in results if r.status == "down")
    assert len({r.checked_at for r in results}) == 1


def test_settings_cannot_stretch_the_cycle_past_5_s() -> None:
    def stuck() -> ProbeOutcome:
        time.sleep(20)
        return ProbeOutcome(CheckStatus.UP, "never")

    probe = sync_probe("worker", stuck)
    started = time.monotonic()
    [result] = run_probe_cycle([probe], deadline_s=60)
    assert time.monotonic() - started < generous(5.0)
    assert result.status == "down"


def test_a_raising_probe_is_down_not_an_exception() -> None:
    def broken() -> ProbeOutcome:
        raise RuntimeError("kaput")

    [result] = run_probe_cycle([sync_probe("worker", broken)], deadline_s=2)
    assert result.status == "down" and "kaput" in result.message


# -- the HTTP helper ------------------------------------------------------------------------
def test_retries_are_at_most_two_and_stop_at_success() -> None:
    calls = {"n": 0}

    def flaky(h: PeerHandler) -> None:
        calls["n"] += 1
        code = 503 if calls["n"] < 3 else 200
        h.send_json(code, {"n": calls["n"]})

    with peer({"/x": flaky}) as server:

        async def go() -> int:
            async with make_async_client(**TIMEOUTS) as client:
                fetched = await get_with_retry(client, server.url + "/x", deadline=Deadline(4))
                return fetched.attempts

        assert run_with_deadline(go, 5) == 3
    with peer({"/x": json_reply(502, {})}) as server:

        async def always_bad() -> int:
            async with make_async_client(**TIMEOUTS) as client:
                fetched = await get_with_retry(
                    client, server.url + "/x", deadline=Deadline(4), retries=10
                )
                return fetched.status_code

        assert run_with_deadline(always_bad, 5) == 502
        assert server.hits["/x"] == 1 + MAX_RETRIES


def test_oversized_answer_is_cut_off() -> None:
    with peer({"/big": raw_reply(200, b"x" * 5000)}) as server:

        async def go() -> None:
            async with make_async_client(**TIMEOUTS) as client:
                await get_with_retry(
                    client, server.url + "/big", deadline=Deadline(3), max_bytes=1000
                )

        with pytest.raises(FetchError, match="larger than 1,000 bytes"):
            run_with_deadline(go, 5)


def test_run_with_deadline_returns_on_time() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run_with_deadline(lambda: asyncio.sleep(30), 0.3)
    assert time.monotonic() - started < generous(1.0)

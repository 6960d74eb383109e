"""The worker's probe job: five components probed, stored in health_checks and Redis, < 5 s."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.data import live
from dashboard.settings import get_settings
from dashboard.worker.probes import run_probe_job, worker_heartbeat_check
from tests.conftest import MakeDatabase
from tests.core.support import BlackHole, healthy_body, json_reply, peer
from tests.harness import generous


@pytest.fixture(scope="module")
def console(make_database: MakeDatabase) -> Iterator[Engine]:
    with make_database("orca_probes") as db:
        yield db.engine(pool_size=5)


def test_a_black_holed_core_cannot_stretch_the_cycle(
    console: Engine, redis_client: redis.Redis
) -> None:
    hole = BlackHole()
    try:
        settings = get_settings().model_copy(
            update={"core_url": hole.url, "otel_health_url": hole.url + "/"}
        )
        started = time.monotonic()
        results = run_probe_job(console, redis_client, settings=settings)
        took = time.monotonic() - started
    finally:
        hole.close()
    print(f"probe job against a black-holed peer: {took:.2f} s")
    assert took < generous(5.0)
    by = {r.component: r for r in results}
    assert set(by) == {"orca_core", "otel_collector", "postgresql", "redis", "worker"}
    assert by["orca_core"].status == "down" and by["orca_core"].message.startswith("timed out")
    assert by["postgresql"].status == "up" and by["redis"].status == "up"
    with console.connect() as conn:
        rows = conn.execute(
            text("SELECT component, status FROM health_checks WHERE checked_at = :at"),
            {"at": results[0].checked_at},
        ).all()
    assert dict(rows) == {r.component: r.status for r in results}
    state = live.read_probe_results(redis_client).value
    assert state["orca_core"]["status"] == "down"
    assert state["postgresql"]["latency_ms"] is not None


def test_healthy_core_is_up_and_heartbeat_is_judged(
    console: Engine, redis_client: redis.Redis
) -> None:
    with peer({"/health": json_reply(200, healthy_body())}) as core:
        settings = get_settings().model_copy(update={"core_url": core.url})
        live.write_heartbeat(
            redis_client, {"leader": True, "jobs": {"rollups": "ok", "sync": "boom"}}
        )
        by = {r.component: r for r in run_probe_job(console, redis_client, settings=settings)}
    assert by["orca_core"].status == "up"
    assert by["worker"].status == "up"
    assert "failing jobs: sync" in by["worker"].message
    redis_client.delete(live.HEARTBEAT_KEY)
    assert worker_heartbeat_check(redis_client).status == "down"
    assert worker_heartbeat_check(redis_client, starting=True).status == "up"

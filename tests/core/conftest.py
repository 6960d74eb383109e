"""Stand-ins for the tests: one read-only over the session's seeded database, one live (short
tick, faults read on every request) over a small database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import Engine

from dashboard.core.server import CoreStandIn
from dashboard.sim.seed import seed_database
from tests.core.support import fresh_database


@pytest.fixture(scope="module")
def readonly_core(seeded_engine: Engine, redis_url: str) -> Iterator[CoreStandIn]:
    """Serves the seeded database and writes nothing (traffic off)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    standin = CoreStandIn(
        seeded_engine, client, traffic=False, fault_ttl_s=0, on_crash=lambda reason: None
    )
    standin.start()
    yield standin
    standin.stop()
    client.close()


@pytest.fixture(scope="module")
def live_db(pg_server_url: str) -> Iterator[Engine]:
    with fresh_database(pg_server_url, "core") as engine:
        seed_database(engine, agents=60, days=1, seed=11, now=datetime.now(UTC))
        yield engine


@pytest.fixture(scope="module")
def live_core(live_db: Engine, redis_url: str) -> Iterator[CoreStandIn]:
    """Ticks every second; a crash stops the server instead of the test process."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    holder: dict[str, CoreStandIn] = {}

    def crashed(reason: str) -> None:
        holder["core"].stop_event.set()
        holder["core"].httpd.shutdown()
        holder["core"].httpd.server_close()

    standin = CoreStandIn(
        live_db, client, tick_s=1.0, sync_every_s=0.5, fault_ttl_s=0, on_crash=crashed, seed=5
    )
    holder["core"] = standin
    standin.start()
    yield standin
    if standin.crashed is None:
        standin.stop()
    client.close()

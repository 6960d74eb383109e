"""Stand-ins for the tests: one read-only over the session's seeded database (``readonly_core``,
in tests/conftest.py), one live (short tick, faults read on every request) over a small
database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from dashboard.core.server import CoreStandIn
from dashboard.sim.seed import seed_database
from tests.conftest import MakeDatabase
from tests.harness import running_standin


@pytest.fixture(scope="module")
def live_db(make_database: MakeDatabase) -> Iterator[Engine]:
    with make_database("orca_core") as db:
        engine = db.engine(pool_size=5)
        seed_database(engine, agents=60, days=1, seed=11, now=datetime.now(UTC))
        yield engine


@pytest.fixture(scope="module")
def live_core(live_db: Engine, redis_url: str) -> Iterator[CoreStandIn]:
    """Ticks every second; a crash stops the server instead of the test process."""
    with running_standin(
        live_db, redis_url, tick_s=1.0, sync_every_s=0.5, fault_ttl_s=0, seed=5
    ) as standin:
        yield standin

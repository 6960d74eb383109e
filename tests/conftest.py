"""Shared fixtures: a real PostgreSQL and Redis for the whole suite, migrated, seeded once.

By default the suite starts the embedded servers (what a newcomer gets): PostgreSQL under
.state/test, Redis on a free port (ORCA_TEST_EMBEDDED_REDIS_PORT pins it);
ORCA_TEST_DATABASE_URL / ORCA_TEST_REDIS_URL point it at other servers instead. Each run creates
its own databases through ``make_database``, so runs never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine

from dashboard import telemetry
from dashboard.core.server import CoreStandIn
from dashboard.db.engine import make_engine
from dashboard.embedded import EmbeddedPostgres, EmbeddedRedis
from dashboard.settings import PROJECT_ROOT, reset_settings, to_sqlalchemy_url
from tests.harness import ThrowawayDatabase, free_port, new_database, running_standin

TEST_STATE = PROJECT_ROOT / ".state" / "test"

# A fixed "now" for the seeded data set, so assertions about it are deterministic.
SEED_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

MakeDatabase = Callable[..., ThrowawayDatabase]

# Backups (issue 11): the suite's workers take none unless a test asks, and any it takes land
# under the test state folder.
os.environ.setdefault("ORCA_BACKUP_SCHEDULE_ENABLED", "false")
os.environ.setdefault("ORCA_BACKUP_DIR", str(TEST_STATE / "backups"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the server the suite uses (a maintenance database on it)."""
    configured = os.environ.get("ORCA_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(Path(TEST_STATE / "pg"))
    url = server.start(database="postgres")
    yield url
    # pgserver keeps running between runs for speed only if another handle holds it.
    server.stop()


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Iterator[MakeDatabase]:
    """Factory of throwaway databases: ``make_database(prefix, migrate=True)``.

    The result has ``.url`` and ``.engine(**options)``; drop it with ``with`` or ``.drop()``
    when a module or test is done with it; whatever is left is dropped at the session's end.
    """
    made: list[ThrowawayDatabase] = []

    def make(prefix: str, *, migrate: bool = True) -> ThrowawayDatabase:
        db = new_database(pg_server_url, prefix, migrate=migrate)
        made.append(db)
        return db

    yield make
    for db in made:
        db.drop()


@pytest.fixture(scope="session")
def db_url(make_database: MakeDatabase) -> Iterator[str]:
    """A fresh, migrated database for this test run."""
    db = make_database("orca_test")
    os.environ["ORCA_DATABASE_URL"] = db.url
    reset_settings()
    yield db.url
    db.drop()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return make_engine(to_sqlalchemy_url(db_url))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("ORCA_TEST_REDIS_URL")
    if configured:
        os.environ["ORCA_REDIS_URL"] = configured
        reset_settings()
        yield configured
        return
    # A free port unless pinned: parallel suites (worktrees, CI jobs) never meet.
    port = int(os.environ.get("ORCA_TEST_EMBEDDED_REDIS_PORT") or free_port())
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), port)
    url = server.start()
    os.environ["ORCA_REDIS_URL"] = url
    reset_settings()
    yield url
    server.stop()


@pytest.fixture()
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis client on a clean database (the suite owns the database of its URL)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


SEED_AGENTS = 400
SEED_DAYS = 3


@pytest.fixture(scope="session")
def seeded_engine(engine: Engine) -> Engine:
    """The run's database filled once by the simulator (small but with every kind of row)."""
    from dashboard.sim.seed import seed_database

    seed_database(engine, agents=SEED_AGENTS, days=SEED_DAYS, seed=7, now=SEED_NOW)
    return engine


@pytest.fixture(scope="module")
def readonly_core(seeded_engine: Engine, redis_url: str) -> Iterator[CoreStandIn]:
    """An ORCA Core stand-in serving the seeded database; it writes nothing (traffic off)."""
    with running_standin(
        seeded_engine, redis_url, traffic=False, fault_ttl_s=0, on_crash=lambda reason: None
    ) as standin:
        yield standin


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the module's tests finish, in memory (telemetry set up as the console does)."""
    telemetry.setup("test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.shutdown()

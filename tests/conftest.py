"""Shared fixtures: a real PostgreSQL and Redis for the whole suite, migrated, seeded once.

By default the suite starts the embedded servers under .state/test (what a newcomer gets);
ORCA_TEST_DATABASE_URL / ORCA_TEST_REDIS_URL point it at other servers instead. Each run creates
its own database, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import Engine

from dashboard.db.engine import make_engine
from dashboard.db.migrate import upgrade
from dashboard.embedded import EmbeddedPostgres, EmbeddedRedis, create_database
from dashboard.settings import PROJECT_ROOT, reset_settings, to_sqlalchemy_url

TEST_STATE = PROJECT_ROOT / ".state" / "test"
TEST_REDIS_PORT = int(os.environ.get("ORCA_TEST_EMBEDDED_REDIS_PORT", "6391"))

# A fixed "now" for the seeded data set, so assertions about it are deterministic.
SEED_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _admin_and_db(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; return the URL of the new database."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    create_database(plain, name)
    with psycopg.connect(plain) as conn:
        info = conn.info
        host, port, user = info.host, info.port, info.user
    if host.startswith("/"):
        return f"postgresql://{user}@/{name}?host={host}&port={port}"
    return f"postgresql://{user}@{host}:{port}/{name}"


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
def db_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test run."""
    name = f"orca_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = _admin_and_db(pg_server_url, name)
    upgrade(url)
    os.environ["ORCA_DATABASE_URL"] = url
    reset_settings()
    yield url
    plain = pg_server_url.replace("postgresql+psycopg://", "postgresql://")
    make_engine.cache_clear()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return make_engine(to_sqlalchemy_url(db_url))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    configured = os.environ.get("ORCA_TEST_REDIS_URL")
    if configured:
        os.environ["ORCA_REDIS_URL"] = configured
        reset_settings()
        yield configured
        return
    server = EmbeddedRedis(TEST_STATE / "redis", TEST_REDIS_PORT)
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

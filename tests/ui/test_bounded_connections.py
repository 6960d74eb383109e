"""A frozen PostgreSQL or Redis (alive, accepting, never answering) costs a page seconds, not minutes.

Each test puts a real local TCP proxy in front of the suite's real server and makes it stop
forwarding: new connections are accepted and bytes acknowledged by the kernel, nothing comes
back, as with a SIGSTOPped server or a partition. The bound asserted is the issue's 3 s; the
configured timeouts are 1-1.5 s, so a loaded machine has room without the check going soft.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from dashboard.data.cache import SharedCache
from dashboard.db.engine import make_engine, server_answers
from dashboard.integrations.redis_client import make_redis
from dashboard.settings import reset_settings, to_sqlalchemy_url
from dashboard.ui import loaders
from tests.harness import FreezingProxy, database_upstream, proxied_database_url

BOUND_S = 3.0


@pytest.fixture()
def pg_proxy(db_url: str) -> Iterator[tuple[FreezingProxy, str]]:
    with FreezingProxy(database_upstream(db_url)) as proxy:
        yield proxy, proxied_database_url(db_url, proxy)


@pytest.fixture()
def fresh_loaders(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORCA_CONSOLE_DB_DEADLINE_S", "1.5")
    reset_settings()
    loaders.reset_for_tests()
    yield
    loaders.reset_for_tests()
    reset_settings()


def _console_engine(url: str) -> Engine:
    return make_engine(to_sqlalchemy_url(url), connect_timeout_s=1, statement_timeout_ms=10_000)


def _timed(fn: object) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_a_new_connection_to_a_frozen_postgresql_fails_within_the_bound(
    pg_proxy: tuple[FreezingProxy, str],
) -> None:
    proxy, url = pg_proxy
    engine = _console_engine(url)
    with engine.connect() as conn:  # the proxy really forwards when thawed
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
    proxy.freeze()
    error, elapsed = _timed(lambda: engine.connect().close())
    assert isinstance(error, OperationalError), error
    assert elapsed < BOUND_S, elapsed
    engine.dispose()


def test_a_pooled_connection_to_a_frozen_postgresql_gives_up_within_the_bound(
    pg_proxy: tuple[FreezingProxy, str], fresh_loaders: None
) -> None:
    """The hard case: the pool holds a connection that was fine; then the server stops."""
    proxy, url = pg_proxy
    engine = _console_engine(url)

    def query() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT 1")).scalar_one())

    assert loaders.call_db(query, url=url) == 1
    assert server_answers(url)
    proxy.freeze()
    error, elapsed = _timed(lambda: loaders.call_db(query, url=url))
    assert isinstance(error, loaders.DatabaseDown), error
    assert elapsed < BOUND_S, elapsed
    assert not server_answers(url)
    # Remembered: the rest of the page does not wait again.
    error, elapsed = _timed(lambda: loaders.call_db(query, url=url))
    assert isinstance(error, loaders.DatabaseDown) and elapsed < 0.1, (error, elapsed)
    proxy.thaw()
    engine.dispose()


def test_a_slow_query_on_a_live_server_is_not_called_down(db_url: str, fresh_loaders: None) -> None:
    """Past the deadline the server is asked directly; alive means "still computing"."""
    engine = _console_engine(db_url)

    def slow() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(3)"))

    error, elapsed = _timed(lambda: loaders.call_db(slow, url=db_url))
    assert isinstance(error, loaders.StillComputing), error
    assert elapsed < BOUND_S, elapsed
    assert not loaders.db_down()


def test_a_frozen_redis_answers_within_the_bound(redis_url: str) -> None:
    host, port = redis_url.removeprefix("redis://").split("/")[0].split(":")
    with FreezingProxy((host, int(port))) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        client = make_redis(url, timeout_s=0.5)
        assert client.ping()
        proxy.freeze()
        error, elapsed = _timed(lambda: client.get("orca:test:frozen"))
        assert isinstance(error, redis.RedisError), error
        # No retry multiplies the wait: one 0.5 s timeout, not four with backoff.
        assert elapsed < BOUND_S, elapsed
        cache = SharedCache(client, namespace="frozen")
        started = time.monotonic()
        result = cache.get_or_compute("k", 30, lambda: "computed", topics=("agents",))
        assert (result.value, result.degraded) == ("computed", True)
        assert time.monotonic() - started < BOUND_S
        make_redis.cache_clear()

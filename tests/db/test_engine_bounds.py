"""Every project connection carries its client-side bounds and the server-side idle-transaction cut."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from dashboard.db.engine import make_engine
from dashboard.settings import reset_settings, to_sqlalchemy_url


@pytest.fixture()
def fresh_engines() -> Iterator[None]:
    make_engine.cache_clear()
    reset_settings()
    yield
    make_engine.cache_clear()
    reset_settings()


def _engine(db_url: str) -> Engine:
    return make_engine(to_sqlalchemy_url(db_url), pool_size=1)


def test_connections_carry_timeouts_and_tcp_bounds(db_url: str, fresh_engines: None) -> None:
    engine = _engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "1min"
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "15s"
        params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
    assert params["keepalives"] == "1" and params["keepalives_idle"] == "5"
    assert params["keepalives_interval"] == "2" and params["keepalives_count"] == "3"
    assert params["tcp_user_timeout"] == "5000" and params["connect_timeout"] == "3"
    engine.dispose()


def test_a_transaction_left_open_is_ended_by_the_server(
    db_url: str, fresh_engines: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future leak (a connection idle inside BEGIN) cannot hold VACUUM's horizon for long."""
    monkeypatch.setenv("ORCA_DB_IDLE_IN_TRANSACTION_TIMEOUT_S", "1")
    reset_settings()
    engine = _engine(db_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # autobegin: the transaction is open now
        time.sleep(2.5)
        with pytest.raises(DBAPIError, match="idle-in-transaction timeout"):
            conn.execute(text("SELECT 1"))
    with engine.connect() as conn:  # the pool replaces the cut connection
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()

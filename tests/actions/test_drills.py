"""Drills: only admins start and stop faults; every start, stop and refusal is audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from dashboard.actions import base
from dashboard.actions.drills import start_drill, stop_drill
from dashboard.core.faults import list_faults
from tests.actions.conftest import LoggedIn


def _audit(engine: Engine, username: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.action, r.outcome)
            for r in conn.execute(
                text("SELECT action, outcome FROM audit_log WHERE actor = :a ORDER BY id"),
                {"a": username},
            )
        ]


def test_admin_starts_and_stops_a_drill(
    auth_engine: Engine, redis_client: redis.Redis, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in("admin")
    result = start_drill(auth_engine, redis_client, admin.actor, "health_down", "2m")
    assert result.outcome == "changed", result
    active = list_faults(redis_client)
    assert [f.name for f in active] == ["health_down"]
    assert active[0].by == admin.username and 100 < active[0].remaining_s <= 120
    again = stop_drill(auth_engine, redis_client, admin.actor, "health_down")
    assert again.outcome == "changed" and list_faults(redis_client) == []
    assert stop_drill(auth_engine, redis_client, admin.actor, "health_down").outcome == "noop"
    assert ("drill.start", "ok") in _audit(auth_engine, admin.username)
    assert ("drill.stop", "ok") in _audit(auth_engine, admin.username)


def test_non_admins_are_refused_and_audited(
    auth_engine: Engine, redis_client: redis.Redis, signed_in: Callable[..., LoggedIn]
) -> None:
    for role in ("oncall", "operator", "manager"):
        user = signed_in(role)
        result = start_drill(auth_engine, redis_client, user.actor, "error_spike", "1m")
        assert result.outcome == "denied"
        assert list_faults(redis_client) == []
        assert ("drill.start", "denied") in _audit(auth_engine, user.username)


def test_bad_drill_input_is_a_plain_message(
    auth_engine: Engine, redis_client: redis.Redis, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in("admin")
    assert start_drill(auth_engine, redis_client, admin.actor, "meteor", "1m").outcome == "invalid"
    bad = start_drill(auth_engine, redis_client, admin.actor, "error_spike", "3 weeks")
    assert bad.outcome == "invalid" and bad.message
    assert list_faults(redis_client) == []


def test_a_drill_whose_audit_row_fails_is_taken_back(
    auth_engine: Engine,
    redis_client: redis.Redis,
    signed_in: Callable[..., LoggedIn],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = signed_in("admin")

    def broken(conn: object, record: object) -> int:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database went away"))

    monkeypatch.setattr(base, "record_audit", broken)  # every change writes its row through base
    result = start_drill(auth_engine, redis_client, admin.actor, "health_down", "2m")
    assert result.outcome == "error" and "nothing was changed" in result.message
    assert list_faults(redis_client) == []  # no drill runs unaudited
    assert ("drill.start", "ok") not in _audit(auth_engine, admin.username)


def test_redis_down_is_a_plain_message(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in("admin")
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    started = start_drill(auth_engine, down, admin.actor, "health_down", "1m")
    assert started.outcome == "error" and "Redis is unreachable" in started.message
    stopped = stop_drill(auth_engine, down, admin.actor, "health_down")
    assert stopped.outcome == "error" and "Redis is unreachable" in stopped.message
    assert _audit(auth_engine, admin.username) == [("auth.login", "ok")]

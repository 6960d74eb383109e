"""Acknowledge and silence: audited, idempotent, version-guarded, visible in the live snapshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import Engine, text

from dashboard.actions import alerts as actions
from dashboard.data import alerts as store
from dashboard.data.alert_rules import current_rules
from dashboard.domain.permissions import Role
from tests.actions.conftest import LoggedIn, audit_rows
from tests.alerts.support import firing_alert


def _history(engine: Engine, key: str) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, actor FROM alert_history WHERE alert_key = :k ORDER BY id"),
            {"k": key},
        )
        return [(r.kind, r.actor) for r in rows]


def test_acknowledge_takes_ownership_once_and_shows_on_the_page(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn], redis_client: redis.Redis
) -> None:
    oncall = signed_in(Role.ONCALL)
    other = signed_in(Role.ONCALL)
    key = firing_alert(auth_engine)
    first = actions.acknowledge_alert(auth_engine, oncall.actor, key, "on it", expected_version=1)
    assert first.outcome == "changed", first
    again = actions.acknowledge_alert(auth_engine, other.actor, key, "me too")
    assert again.outcome == "noop" and oncall.username in again.message
    assert _history(auth_engine, key) == [("acknowledged", oncall.username)]
    rows = [
        r
        for r in audit_rows(auth_engine, actor=oncall.username)
        if r["action"] == "alert.acknowledge"
    ]
    assert len(rows) == 1 and rows[0]["target_id"] == key and rows[0]["reason"] == "on it"
    snapshot = store.list_active(redis_client).alerts
    mine = [a for a in snapshot if a.alert_key == key]
    assert mine and mine[0].acked_by == oncall.username and mine[0].ack_note == "on it"


def test_a_stale_version_is_a_conflict_and_a_note_is_required(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    oncall = signed_in(Role.ONCALL)
    key = firing_alert(auth_engine)
    assert actions.acknowledge_alert(auth_engine, oncall.actor, key, "  ").outcome == "invalid"
    stale = actions.acknowledge_alert(auth_engine, oncall.actor, key, "x", expected_version=7)
    assert stale.outcome == "conflict"
    gone = actions.acknowledge_alert(auth_engine, oncall.actor, key + "0", "x")
    assert gone.outcome == "not_found"


def test_silence_is_listed_with_who_and_until_and_can_be_lifted(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn], redis_client: redis.Redis
) -> None:
    oncall = signed_in(Role.ONCALL)
    key = firing_alert(auth_engine, rule_id="disk_high")
    now = datetime.now(UTC)
    result = actions.silence_alert(
        auth_engine,
        oncall.actor,
        "disk_high",
        None,
        "disk swap tonight",
        timedelta(hours=2),
        now=now,
    )
    assert result.outcome == "changed", result
    repeat = actions.silence_alert(
        auth_engine,
        oncall.actor,
        "disk_high",
        None,
        "disk swap tonight",
        timedelta(hours=2),
        now=now,
    )
    assert repeat.outcome == "noop"
    alert = next(a for a in store.list_active(redis_client).alerts if a.alert_key == key)
    assert alert.silenced_by == oncall.username
    assert alert.silenced_until is not None
    assert abs((alert.silenced_until - (now + timedelta(hours=2))).total_seconds()) < 1
    with auth_engine.connect() as conn:
        silences = [
            s for s in store.list_silences(conn, now=now) if s.comment == "disk swap tonight"
        ]
    assert len(silences) == 1
    lifted = actions.lift_silence(auth_engine, oncall.actor, silences[0].id, expected_version=1)
    assert lifted.outcome == "changed"
    assert actions.lift_silence(auth_engine, oncall.actor, silences[0].id).outcome == "noop"
    bad = actions.silence_alert(
        auth_engine, oncall.actor, "no_such_rule", None, "x", timedelta(hours=1)
    )
    assert bad.outcome == "not_found"
    too_long = actions.silence_alert(
        auth_engine, oncall.actor, "disk_high", None, "x", timedelta(days=90)
    )
    assert too_long.outcome == "invalid"
    assert "disk_high" in current_rules()

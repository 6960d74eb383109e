"""PagerDuty gets one event per alert, its dedup_key the alert's key: the trigger, the
console's acknowledgement and the resolution of one alert pair up there, while the other
contact points still get one message per rule. A real local HTTP server records the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine, text

from dashboard.actions import alerts as actions
from dashboard.data import notify_store
from dashboard.data.alert_rules import load_rules
from dashboard.domain.permissions import Role
from dashboard.worker.alerts import run_alert_cycle
from dashboard.worker.notify import run_notify_cycle
from tests.actions.conftest import login
from tests.notify.conftest import fast_settings
from tests.notify.peers import http_peer

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # a Thursday
RULES = {r.id: r for r in load_rules() if r.id == "disk_high"}


def _disk(engine: Engine, at: datetime, **by_instance: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("SELECT orca_ensure_daily_partitions('resource_samples', :d, :d)"),
            {"d": at.date()},
        )
        for instance, pct in by_instance.items():
            conn.execute(
                text(
                    "INSERT INTO resource_samples (minute, instance, cpu_pct, memory_pct, "
                    "disk_pct, db_connections, db_pool_size, net_rx_bytes, net_tx_bytes) "
                    "VALUES (:m, :i, 10, 10, :d, 1, 10, 0, 0)"
                ),
                {"m": at, "i": instance, "d": pct},
            )


def _add_point(engine: Engine, kind: str, secret: str, config: dict[str, Any]) -> None:
    with engine.begin() as conn:
        notify_store.insert_contact_point(
            conn,
            name=kind,
            kind=kind,
            audiences=["oncall", "broadcast"],  # a warning goes to broadcast points
            config=config,
            secret=secret,
            secret_hint="••••",
            by="test",
            now=T0,
        )


def _notify(engine: Engine, at: datetime) -> None:
    run_notify_cycle(engine, clock=lambda: at, settings=fast_settings())


def test_trigger_acknowledge_and_resolve_of_one_alert_share_its_dedup_key(
    db: Engine, redis_client: redis.Redis
) -> None:
    with http_peer(ok_status=202) as pd, http_peer() as hook:
        _add_point(db, "pagerduty", "PDROUTINGKEY00000001", {"url": pd.url + "/v2/enqueue"})
        _add_point(db, "webhook", hook.url + "/hook", {})
        now = T0
        _disk(db, now, **{"core-1": 95, "core-2": 96})
        fired = run_alert_cycle(db, redis_client, now=now, rules=RULES).transitions
        keys = {t.labels: t.alert_key for t in fired if t.to_state == "firing"}
        assert set(keys) == {"instance=core-1", "instance=core-2"}
        _notify(db, now)

        assert len(hook.received) == 1, "the other contact points: one message for the rule"
        triggers = [(e["event_action"], e["dedup_key"]) for e in pd.received]
        assert sorted(triggers) == sorted(("trigger", k) for k in keys.values())
        assert all(e["routing_key"] == "PDROUTINGKEY00000001" for e in pd.received)
        assert all("core-" in e["payload"]["summary"] for e in pd.received)

        # Acknowledging core-1 in the console acknowledges its PagerDuty incident only.
        oncall = login(db, Role.ONCALL)
        now += timedelta(seconds=15)
        acked = actions.acknowledge_alert(
            db, oncall.actor, keys["instance=core-1"], "on it", now=now
        )
        assert acked.outcome == "changed", acked
        _notify(db, now)
        assert [(e["event_action"], e["dedup_key"]) for e in pd.received[2:]] == [
            ("acknowledge", keys["instance=core-1"])
        ]
        assert "payload" not in pd.received[2]
        assert len(hook.received) == 1, "an acknowledgement is not broadcast to webhooks"

        # Both recover: each alert's resolve carries its own key.
        now += timedelta(minutes=1)
        _disk(db, now, **{"core-1": 20, "core-2": 20})
        resolved = run_alert_cycle(db, redis_client, now=now, rules=RULES).transitions
        assert sorted(t.to_state for t in resolved) == ["resolved", "resolved"]
        _notify(db, now)
        resolves = [(e["event_action"], e["dedup_key"]) for e in pd.received[3:]]
        assert sorted(resolves) == sorted(("resolve", k) for k in keys.values())
        assert len(hook.received) == 2

        # Another cycle sends nothing again (exactly once per transition).
        _notify(db, now + timedelta(minutes=1))
        assert len(pd.received) == 5 and len(hook.received) == 2

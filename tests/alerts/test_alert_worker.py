"""The alert job on real PostgreSQL and Redis with a controllable clock.

Probe results are written to Redis as the probe job writes them and KPI snapshots to
PostgreSQL as the KPI job does; the cycle then reads, evaluates, stores and publishes.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.data import alerts as store
from dashboard.data import live
from dashboard.data.alert_rules import load_rules
from dashboard.db.engine import make_engine
from dashboard.domain.alerting import AlertRule
from dashboard.worker.alerts import run_alert_cycle

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
STEP = timedelta(seconds=15)
RULES = {r.id: r for r in load_rules()}


def _only(*ids: str) -> dict[str, AlertRule]:
    return {i: RULES[i] for i in ids}


def _probe(client: redis.Redis, status: str, at: datetime) -> None:
    live.write_probe_results(
        client,
        {
            "orca_core": {
                "status": status,
                "latency_ms": 3.0,
                "message": "t",
                "checked_at": at.isoformat(),
            },
            "postgresql": {
                "status": "up",
                "latency_ms": 1.0,
                "message": "t",
                "checked_at": at.isoformat(),
            },
        },
    )


def _kpi(engine: Engine, at: datetime, trust: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO kpi_snapshots (computed_at, trust_score, drift_rate_pct) "
                "VALUES (:at, :t, 2)"
            ),
            {"at": at, "t": trust},
        )


def _history(engine: Engine, kind: str = "transition") -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM alert_history WHERE kind = :k ORDER BY at, id"), {"k": kind}
        )
        return [dict(r._mapping) for r in rows]


def _outbox(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM notification_outbox ORDER BY id"))
        return [dict(r._mapping) for r in rows]


def test_service_down_fires_after_two_minutes_and_resolves(
    db: Engine, redis_client: redis.Redis
) -> None:
    rules = _only("service_down")
    now = T0
    _probe(redis_client, "up", now)
    assert run_alert_cycle(db, redis_client, now=now, rules=rules).transitions == []
    fired_at = None
    for _ in range(12):
        now += STEP
        _probe(redis_client, "down", now)
        result = run_alert_cycle(db, redis_client, now=now, rules=rules)
        if any(t.to_state == "firing" for t in result.transitions):
            fired_at = now
            break
    assert fired_at is not None
    moves = [(r["from_state"], r["to_state"]) for r in _history(db)]
    assert moves == [("ok", "pending"), ("pending", "firing")]
    first_bad = T0 + STEP
    assert fired_at - first_bad == timedelta(minutes=2)
    assert _history(db)[1]["value"] == 1.0 and _history(db)[1]["threshold"] == 0.5
    firing = store.list_firing(redis_client)
    assert [a.rule_id for a in firing] == ["service_down"]
    assert store.count_firing_by_severity(redis_client) == {"P1": 1, "P2": 0, "warning": 0}
    key = firing[0].alert_key
    assert key.startswith("service_down[]@")
    out = _outbox(db)
    assert [(o["dedupe_key"], o["severity"], o["audience"]) for o in out] == [
        (f"{key}:firing", "P1", "oncall")
    ]
    now += STEP
    _probe(redis_client, "up", now)
    result = run_alert_cycle(db, redis_client, now=now, rules=rules)
    assert [t.to_state for t in result.transitions] == ["resolved"]
    assert [o["dedupe_key"] for o in _outbox(db)][-1] == f"{key}:resolved"
    assert store.list_firing(redis_client) == []
    # The P1 declared one linked incident; its timeline collected the firing and resolution.
    with db.connect() as conn:
        incident = conn.execute(
            text("SELECT id, severity FROM incidents WHERE alert_key = :k"), {"k": key}
        ).one()
        kinds = (
            conn.execute(
                text("SELECT kind FROM incident_timeline WHERE incident_id = :i ORDER BY at, id"),
                {"i": incident.id},
            )
            .scalars()
            .all()
        )
    assert incident.severity == "P1"
    assert "alert.firing" in kinds and kinds[-1] == "alert.resolved"


def test_a_restart_mid_pending_resumes_without_refiring(
    db: Engine, redis_client: redis.Redis
) -> None:
    rules = _only("service_down")
    now = T0
    for _ in range(4):  # pending for 45 s, then the worker "dies"
        _probe(redis_client, "down", now)
        run_alert_cycle(db, redis_client, now=now, rules=rules)
        now += STEP
    # A new process: a fresh engine, nothing in memory; Redis live state lost too.
    redis_client.delete(store.STATES_KEY)
    db.dispose()
    fired = []
    for _ in range(12):
        _probe(redis_client, "down", now)
        fired += [t for t in run_alert_cycle(db, redis_client, now=now, rules=rules).transitions]
        now += STEP
    assert [(t.from_state, t.to_state) for t in fired] == [("pending", "firing")]
    assert fired[0].at - T0 == timedelta(minutes=2)
    assert len(_outbox(db)) == 1
    assert len(_history(db)) == 2


def test_two_workers_at_once_give_one_evaluation_and_one_transition(
    db: Engine, redis_client: redis.Redis, make_database: Any
) -> None:
    rules = _only("trust_score_critical")
    _kpi(db, T0, 40.0)
    other = make_engine(db.url.render_as_string(hide_password=False))
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def run(engine: Engine) -> None:
        barrier.wait()
        results.append(run_alert_cycle(engine, redis_client, now=T0 + STEP, rules=rules))

    threads = [threading.Thread(target=run, args=(e,)) for e in (db, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    other.dispose()
    evaluated = [r for r in results if r.skipped is None]
    assert len(results) == 2 and len(evaluated) == 1
    assert [r.skipped for r in results if r.skipped] in (
        ["another evaluator is running"],
        ["evaluated moments ago"],
    )
    assert [(h["from_state"], h["to_state"]) for h in _history(db)] == [("ok", "firing")]
    assert len(_outbox(db)) == 1


def test_escalation_of_an_unacknowledged_p1_happens_once_per_step(
    db: Engine, redis_client: redis.Redis
) -> None:
    rules = _only("trust_score_critical")
    _kpi(db, T0, 40.0)
    now = T0
    for _ in range(4 * 33):  # 33 minutes of 15 s cycles
        run_alert_cycle(db, redis_client, now=now, rules=rules)
        now += STEP
        if (now - T0) % timedelta(minutes=10) == timedelta(0):
            _kpi(db, now, 40.0)  # the KPI job keeps writing (else: no data after 30 min)
    escalated = _history(db, "escalated")
    assert [e["to_state"] for e in escalated] == ["secondary", "manager"]
    assert escalated[0]["at"] - T0 == timedelta(minutes=15)
    assert escalated[1]["at"] - T0 == timedelta(minutes=30)
    audiences = [o["audience"] for o in _outbox(db)]
    assert audiences == ["oncall", "secondary", "manager"]


def test_no_data_when_the_probes_stop(db: Engine, redis_client: redis.Redis) -> None:
    rules = _only("service_down")
    _probe(redis_client, "up", T0)
    run_alert_cycle(db, redis_client, now=T0, rules=rules)
    now = T0
    states = []
    for _ in range(10):
        now += STEP
        result = run_alert_cycle(db, redis_client, now=now, rules=rules)
        states += [t.to_state for t in result.transitions]
    assert states == ["nodata"]
    active = store.list_active(redis_client).alerts
    assert [(a.rule_id, a.state) for a in active] == [("service_down", "nodata")]
    assert store.count_firing_by_severity(redis_client)["P1"] == 0


def test_history_is_append_only(db: Engine, redis_client: redis.Redis) -> None:
    _kpi(db, T0, 40.0)
    run_alert_cycle(db, redis_client, now=T0, rules=_only("trust_score_critical"))
    with pytest.raises(Exception, match="append-only"), db.begin() as conn:
        conn.execute(text("DELETE FROM alert_history"))
    assert len(_history(db)) == 1


def test_per_instance_series_replace_the_placeholder_and_retired_instances_go(
    db: Engine, redis_client: redis.Redis
) -> None:
    rules = _only("disk_high")
    run_alert_cycle(db, redis_client, now=T0, rules=rules)  # no samples yet: "" says no data
    assert [a.labels for a in store.list_active(redis_client).alerts] == [""]
    with db.begin() as conn:
        conn.execute(
            text("SELECT orca_ensure_daily_partitions('resource_samples', :d, :d)"),
            {"d": T0.date()},
        )
        conn.execute(
            text(
                "INSERT INTO resource_samples (minute, instance, cpu_pct, memory_pct, disk_pct, "
                "db_connections, db_pool_size, net_rx_bytes, net_tx_bytes) "
                "VALUES (:m, 'core-1', 10, 10, 95, 1, 10, 0, 0)"
            ),
            {"m": T0},
        )
    result = run_alert_cycle(db, redis_client, now=T0 + STEP, rules=rules)
    assert [(t.labels, t.to_state) for t in result.transitions] == [("instance=core-1", "firing")]
    assert [a.labels for a in store.list_active(redis_client).alerts] == ["instance=core-1"]

"""Bench of the alert job: every rule evaluated over the 1M-agent data set, time per cycle.

Runs each cycle exactly as the worker does (metric reads, evaluation, state and history
writes, outbox rows, the Redis snapshot), inside ONE transaction that also creates the alert
tables (migration 0005's DDL) and is rolled back at the end: a shared, kept bench database is
left exactly as it was (no migration recorded, no rows added).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, Engine, text

from dashboard.data import alert_hooks
from dashboard.data import alerts as store
from dashboard.data.alert_metrics import read_metrics
from dashboard.data.alert_rules import load_rules
from dashboard.domain.alerting import AlertRule, Transition
from dashboard.worker.alerts import evaluate_all

MIGRATION = Path(__file__).resolve().parents[1] / "dashboard/db/migrations/versions/0005_alerts.py"
TARGET_S = 2.0


class _CountingHooks(alert_hooks.Hooks):
    """No outbox or incident tables in a database that never ran 0006/0007: count instead."""

    def __init__(self) -> None:
        self.calls = 0

    def on_transition(
        self, conn: Connection, rule: AlertRule, t: Transition, *, silenced: bool
    ) -> int:
        self.calls += 1
        return 0

    def on_escalation(
        self, conn: Connection, rule: AlertRule, alert_key: str, audience: str, now: datetime
    ) -> int:
        self.calls += 1
        return 0


def _create_alert_tables(conn: Connection) -> None:
    spec = importlib.util.spec_from_file_location("orca_bench_0005", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(conn)):
        module.upgrade()


def run_alert_bench(
    engine: Engine,
    redis_url: str,
    *,
    now: datetime,
    runs: int,
    pct: Callable[[list[float], float], float],
) -> dict[str, Any]:
    """Print and return p50/p95 of a full cycle and of its metric reads alone."""
    rules = {r.id: r for r in load_rules()}
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    hooks = _CountingHooks()
    cycles: list[float] = []
    reads: list[float] = []
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            if conn.execute(text("SELECT to_regclass('public.alert_states')")).scalar() is None:
                _create_alert_tables(conn)
            agents = conn.execute(
                text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'agents'")
            ).scalar()
            metrics = [r.metric for r in rules.values()]
            for i in range(max(1, runs)):
                at = now + timedelta(seconds=15 * i)
                started = time.perf_counter()
                read_metrics(conn, client, metrics=metrics, now=at)
                reads.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = evaluate_all(conn, client, rules, now=at, interval_s=15, hooks=hooks)
                store.publish(conn, client, rules, now=at)
                cycles.append(time.perf_counter() - started)
                assert result.skipped is None, result.skipped
            series = result.series
        finally:
            trans.rollback()
    figures = {
        "rules": len(rules),
        "agents_estimate": agents,
        "series": series,
        "cycle_p50_s": pct(cycles, 0.5),
        "cycle_p95_s": pct(cycles, 0.95),
        "reads_p50_s": pct(reads, 0.5),
        "transitions_seen": hooks.calls,
    }
    print(
        f"alert evaluation over ~{figures['agents_estimate']:,} agents "
        "(one cycle = reads + evaluation + writes + snapshot)"
    )
    print(
        f"  {figures['rules']} rules, {series} series: cycle p50 {figures['cycle_p50_s']:.3f} s, "
        f"p95 {figures['cycle_p95_s']:.3f} s (target < {TARGET_S:.0f} s at a 15 s interval); "
        f"metric reads alone p50 {figures['reads_p50_s']:.3f} s"
    )
    return figures

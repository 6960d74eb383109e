"""The simulator: every table filled, valid vocabulary, consistent histograms and rollups, determinism."""

from __future__ import annotations

import secrets
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import Engine, text

from dashboard.db.engine import make_engine
from dashboard.db.migrate import upgrade
from dashboard.domain.histogram import BUCKET_COLUMNS
from dashboard.sim.seed import seed_database
from dashboard.sim.vocab import HOSTILE_NAMES
from tests.conftest import SEED_AGENTS, SEED_DAYS, SEED_NOW, _admin_and_db

TABLES = (
    "agents",
    "agent_status_changes",
    "agent_trust_history",
    "policy_violations",
    "data_sources",
    "sync_gaps",
    "drift_detections",
    "request_metrics",
    "request_metrics_hourly",
    "resource_samples",
    "resource_samples_hourly",
    "health_checks",
    "health_checks_hourly",
    "sync_lag_samples",
    "sync_lag_samples_hourly",
    "kpi_snapshots",
)


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_every_table_is_filled(seeded_engine: Engine) -> None:
    for table in TABLES:
        assert _scalar(seeded_engine, f"SELECT count(*) FROM {table}") > 0, table
    assert _scalar(seeded_engine, "SELECT count(*) FROM agents") == SEED_AGENTS


def test_vocabulary_and_sources(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        sources = {r[0] for r in conn.execute(text("SELECT DISTINCT discovery_source FROM agents"))}
        assert {"mcp", "zapier", "make", "n8n", "airflow", "lambda"} <= sources
        unreviewed = conn.execute(
            text("SELECT count(*) FROM agents WHERE status = 'quarantined' AND reviewed_at IS NULL")
        ).scalar_one()
        assert unreviewed > 0
        names = {r[0] for r in conn.execute(text("SELECT name FROM agents"))}
        assert "<img src=x onerror=alert(1)>" in names
        assert sum(1 for h in HOSTILE_NAMES if h in names) >= 5


def test_timestamps_in_range(seeded_engine: Engine) -> None:
    start = SEED_NOW - timedelta(days=SEED_DAYS)
    with seeded_engine.connect() as conn:
        lo, hi = conn.execute(text("SELECT min(minute), max(minute) FROM request_metrics")).one()
        assert start <= lo and hi <= SEED_NOW
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM policy_violations WHERE occurred_at > :now OR resolved_at > :now"
                ),
                {"now": SEED_NOW},
            ).scalar_one()
            == 0
        )


def test_histograms_sum_to_counts_and_rollups_match(seeded_engine: Engine) -> None:
    total = " + ".join(BUCKET_COLUMNS)
    with seeded_engine.connect() as conn:
        bad = conn.execute(
            text(f"SELECT count(*) FROM request_metrics WHERE {total} <> request_count")
        ).scalar_one()
        assert bad == 0
        raw = conn.execute(text("SELECT sum(request_count), sum(b500) FROM request_metrics")).one()
        hourly = conn.execute(
            text("SELECT sum(request_count), sum(b500) FROM request_metrics_hourly")
        ).one()
        assert tuple(raw) == tuple(hourly)
        up_raw = conn.execute(
            text("SELECT count(*) FILTER (WHERE status='up') FROM health_checks")
        ).scalar_one()
        up_hourly = conn.execute(text("SELECT sum(up) FROM health_checks_hourly")).scalar_one()
        assert up_raw == up_hourly


def test_incidents_are_visible(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        worst = conn.execute(
            text("""
            SELECT max(100.0 * e / r) FROM (
              SELECT minute, sum(error_count) e, sum(request_count) r FROM request_metrics
              WHERE route = '/api/v1/agents' OR route LIKE '/api/v1/%' GROUP BY minute, route
            ) t WHERE r > 20""")
        ).scalar_one()
        assert worst > 5
        downs = conn.execute(
            text("SELECT count(*) FROM health_checks WHERE status = 'down'")
        ).scalar_one()
        assert downs > 0


def test_refuses_a_database_with_agents(seeded_engine: Engine) -> None:
    with pytest.raises(ValueError, match="already holds agents"):
        seed_database(seeded_engine, agents=10, days=1, seed=1, now=SEED_NOW)


def test_same_seed_same_data(seeded_engine: Engine, pg_server_url: str) -> None:
    name = f"orca_det_{secrets.token_hex(3)}"
    url = _admin_and_db(pg_server_url, name)
    try:
        upgrade(url)
        other = make_engine(url)
        seed_database(other, agents=SEED_AGENTS, days=SEED_DAYS, seed=7, now=SEED_NOW)
        checks = [
            "SELECT md5(string_agg(name || status || coalesce(trust_score::text, ''), ',' ORDER BY id)) FROM agents",
            "SELECT sum(request_count)::text || sum(b250)::text FROM request_metrics",
            "SELECT count(*)::text || sum(extract(epoch FROM occurred_at))::text FROM policy_violations",
        ]
        for sql in checks:
            assert _scalar(other, sql) == _scalar(seeded_engine, sql), sql
        other.dispose()
    finally:
        make_engine.cache_clear()
        with psycopg.connect(pg_server_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

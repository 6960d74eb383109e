"""Exact numbers from rows written by the test itself, in a transaction that is rolled back.

The seeded data would make hand-computed expectations impossible, so each test clears the
tables it needs inside the transaction, inserts a handful of rows whose answer is known, and
checks the data functions against that answer (and the domain formulas).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from dashboard.data import health, kpis, metrics, rollups, trust_rollups
from dashboard.domain import kpi
from dashboard.domain.histogram import BUCKET_COLUMNS, histogram_quantile
from tests.conftest import SEED_NOW

NOW = SEED_NOW
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture()
def tx(seeded_engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is always rolled back."""
    with seeded_engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


def _exec(conn: Connection, sql: str, **params: object) -> None:
    conn.execute(text(sql), params)


def _agent_ids(conn: Connection, status: str, n: int) -> list[int]:
    rows = conn.execute(
        text("SELECT id FROM agents WHERE status = :s ORDER BY id LIMIT :n"), {"s": status, "n": n}
    )
    return [int(r[0]) for r in rows]


def test_kpis_from_known_rows(tx: Connection) -> None:
    for table in ("policy_violations", "sync_gaps", "data_sources", "drift_detections"):
        _exec(tx, f"DELETE FROM {table}")
    a1, a2, a3, a4 = _agent_ids(tx, "active", 4)
    (q1,) = _agent_ids(tx, "quarantined", 1)
    start, end = NOW - 10 * 24 * H, NOW
    violations = [
        # (agent, severity, action, occurred, resolved)
        (a1, "critical", "blocked", NOW - 5 * H, NOW - 5 * H + 30 * M),  # met (1 h)
        (a1, "high", "blocked", NOW - 20 * H, NOW - 15 * H),  # missed (4 h)
        (a2, "low", "blocked", NOW - 2 * H, None),  # open, within 7 d: not counted
        (a2, "low", "throttled", NOW - 9 * 24 * H, None),  # open past 7 d: missed
        (a3, "medium", "audited", NOW - 3 * H, NOW - 2 * H),  # met (24 h)
        (a3, "medium", "blocked", NOW - 30 * H, None),  # open past 24 h: missed
        (a4, "critical", "blocked", NOW - 11 * 24 * H, None),  # before the period
    ]
    for agent, sev, action, occurred, resolved in violations:
        _exec(
            tx,
            "INSERT INTO policy_violations (agent_id, policy_id, severity, action, occurred_at, "
            "resolved_at) VALUES (:a, 'p-1', :s, :act, :o, :r)",
            a=agent,
            s=sev,
            act=action,
            o=occurred,
            r=resolved,
        )
    sources = [  # (source, last_success_at): lags 10 s, 60 s (on the SLO), 61 s, never
        ("mcp", NOW - timedelta(seconds=10)),
        ("mcp", NOW - timedelta(seconds=60)),
        ("zapier", NOW - timedelta(seconds=61)),
        ("zapier", None),
    ]
    for src, last in sources:
        _exec(
            tx,
            "INSERT INTO data_sources (agent_id, name, source, last_success_at) "
            "VALUES (:a, 'ds', :s, :l)",
            a=a1,
            s=src,
            l=last,
        )
    for agent, resolved in ((a1, None), (a1, None), (a2, None), (a3, NOW - H), (q1, None)):
        _exec(
            tx,
            "INSERT INTO drift_detections (agent_id, kind, score, detected_at, resolved_at) "
            "VALUES (:a, 'config', 50, :d, :r)",
            a=agent,
            d=NOW - 2 * H,
            r=resolved,
        )

    s = kpis.summarize_kpis(tx, start=start, end=end, now=NOW)

    assert s.risk_avoided_usd == 15_000 + 5_000 + 500 + 2_000
    assert s.risk_avoided_usd == kpi.risk_avoided_usd(
        {"critical": 1, "high": 1, "low": 1, "medium": 1}
    )
    assert s.violations == 6
    # counted: met critical, missed high, missed low, met medium, missed medium -> 2 of 5
    assert s.compliance_sla_pct == pytest.approx(40.0)
    in_period = [(sev, o, r) for _, sev, _, o, r in violations if start <= o < end]
    assert s.compliance_sla_pct == pytest.approx(kpi.compliance_sla_percent(in_period, NOW))
    assert s.sync_freshness_pct == pytest.approx(50.0)
    active = tx.execute(text("SELECT count(*) FROM agents WHERE status = 'active'")).scalar_one()
    assert s.active_agents == active
    assert s.drift_rate_pct == pytest.approx(100.0 * 2 / active)  # a1 and a2; a3 resolved
    # As of an earlier moment the drift of a3 was still open, and none had been detected yet
    # three hours ago.
    earlier = kpis.summarize_kpis(tx, start=start, end=end, now=NOW - 90 * M)
    assert earlier.drift_rate_pct == pytest.approx(100.0 * 3 / active)
    assert kpis.summarize_kpis(tx, start=start, end=end, now=NOW - 3 * H).drift_rate_pct == 0

    by_source = kpis.list_sync_lag_by_source(tx, now=NOW).set_index("source")
    assert list(by_source.index) == ["zapier", "mcp"]  # worst first
    assert by_source.loc["zapier", "stale"] == 2
    assert by_source.loc["zapier", "freshness_pct"] == 0
    assert by_source.loc["zapier", "lag_max_s"] == pytest.approx(61)
    assert by_source.loc["mcp", "freshness_pct"] == 100
    assert by_source.loc["mcp", "lag_avg_s"] == pytest.approx(35)

    ra = kpis.list_risk_avoided_series(tx, start=start, end=end, bucket=24 * H)
    assert ra["risk_avoided_usd"].sum() == s.risk_avoided_usd
    assert ra["cumulative_usd"].iloc[-1] == s.risk_avoided_usd
    assert ra["cumulative_usd"].is_monotonic_increasing


def test_snapshot_record_and_series(tx: Connection) -> None:
    _exec(tx, "DELETE FROM kpi_snapshots")
    snap = kpis.compute_kpi_snapshot(tx, now=NOW)
    kpis.record_kpi_snapshot(tx, snapshot=snap, origin="worker")
    kpis.record_kpi_snapshot(tx, snapshot=snap, origin="worker")  # same key: replaced
    stored = tx.execute(text("SELECT * FROM kpi_snapshots")).mappings().all()
    assert len(stored) == 1
    assert stored[0]["total_agents"] == snap.total_agents == 400
    assert stored[0]["reliability"] == pytest.approx(snap.reliability)
    # Components are the means over active agents of their latest scoring.
    truth = tx.execute(
        text("""SELECT avg(h.reliability) FROM agent_trust_history h
                JOIN agents a ON a.id = h.agent_id AND a.status = 'active'
                WHERE h.computed_at = (SELECT max(computed_at) FROM agent_trust_history x
                                       WHERE x.agent_id = h.agent_id AND x.computed_at <= :n)"""),
        {"n": NOW},
    ).scalar_one()
    assert snap.reliability == pytest.approx(truth)
    with pytest.raises(ValueError, match="origin"):
        kpis.record_kpi_snapshot(tx, snapshot=snap, origin="'; DROP TABLE x; --")

    later = kpis.KpiSnapshotValues(
        **{**snap.__dict__, "computed_at": NOW + 70 * M, "trust_score": 60.0}
    )
    kpis.record_kpi_snapshot(tx, snapshot=later, origin="core")
    series = kpis.list_kpi_series(tx, start=NOW - H, end=NOW + 2 * H, bucket=H)
    assert series["ts"].tolist() == [pd.Timestamp(NOW), pd.Timestamp(NOW + H)]
    assert series["trust_score"].tolist() == pytest.approx([snap.trust_score, 60.0])
    assert snap.trust_score is not None
    one = kpis.list_kpi_series(tx, start=NOW - H, end=NOW + 2 * H, bucket=2 * H)
    assert one["trust_score"].tolist() == pytest.approx([(snap.trust_score + 60.0) / 2])
    # "Previous period" values: the newest snapshot at or before the period's end.
    previous = kpis.summarize_kpis_at(tx, start=NOW - 24 * H, end=NOW + 90 * M)
    assert previous["trust_score"] == 60.0
    assert kpis.summarize_kpis_at(tx, start=NOW - 24 * H, end=NOW + 5 * M)["trust_score"] == (
        pytest.approx(snap.trust_score)
    )


def test_trust_drivers_from_known_history(tx: Connection) -> None:
    _exec(tx, "DELETE FROM agent_trust_history")
    _exec(tx, "DELETE FROM kpi_snapshots")
    a, b, c, d = _agent_ids(tx, "active", 4)
    (q,) = _agent_ids(tx, "quarantined", 1)
    start, end = NOW - 24 * H, NOW
    history = {  # agent: [(when, score)]
        a: [(start - 48 * H, 99.0), (start - H, 90.0), (end - 2 * H, 75.0), (end, 70.0)],
        b: [(start, 80.0), (end - H, 79.0)],  # at start counts as before
        c: [(start - H, 50.0), (end, 60.0)],  # rose
        d: [(end, 10.0)],  # no score before the period
        q: [(start - H, 90.0), (end, 5.0)],  # not active
    }
    for agent, points in history.items():
        for when, score in points:
            _exec(
                tx,
                "INSERT INTO agent_trust_history VALUES (:a, :t, :s, 0.5, 0.5, 0.5, 0.5)",
                a=agent,
                t=when,
                s=score,
            )
    for when, rel in ((start + 10 * M, 0.9), (start + 20 * M, 0.8), (end - 5 * M, 0.6)):
        _exec(
            tx,
            "INSERT INTO kpi_snapshots (computed_at, origin, reliability, policy_adherence, "
            "sync_freshness, risk_exposure) VALUES (:t, 'seed', :r, 0.9, 0.9, 0.3)",
            t=when,
            r=rel,
        )
    # The per-agent rollups follow the rewritten history, as the worker's next pass would.
    _exec(tx, "DELETE FROM agent_trust_hourly")
    _exec(tx, "DELETE FROM agent_trust_daily")
    trust_rollups.rebuild_trust_rollups(tx)
    assert trust_rollups.list_trust_falls(tx, start=start, end=end, limit=20) is not None
    drivers = kpis.summarize_trust_drivers(tx, start=start, end=end)
    assert drivers.agents["agent_id"].tolist() == [a, b]
    assert drivers.agents["delta"].tolist() == pytest.approx([-20.0, -1.0])
    assert drivers.agents["score_before"].tolist() == pytest.approx([90.0, 80.0])
    comp = drivers.components.set_index("component")
    assert comp.loc["reliability", "before"] == pytest.approx(0.85)
    assert comp.loc["reliability", "after"] == pytest.approx(0.6)
    assert comp.loc["reliability", "delta"] == pytest.approx(-0.25)
    assert comp.loc["risk_exposure", "delta"] == pytest.approx(0.0)


def test_uptime_edges_and_health_checks(tx: Connection) -> None:
    # A moment with no seeded rows: the day's partition is created inside the transaction.
    now = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    statuses = ["up", "up", "down", "up", "degraded", "up"]  # every 20 minutes from 10:40
    for i, status in enumerate(statuses):
        health.record_health_check(
            tx,
            component="redis",
            status=status,
            checked_at=now - 110 * M + i * 20 * M,
            latency_ms=1.5 * i,
            message=None if status == "up" else f"{status} <b>x</b>",
        )
    rollups.refresh_rollups(tx, since=now - 3 * H)
    hourly = tx.execute(
        text(
            "SELECT checks, up FROM health_checks_hourly "
            "WHERE component = 'redis' AND hour >= :h ORDER BY hour"
        ),
        {"h": now - 3 * H},
    ).all()
    assert [tuple(r) for r in hourly] == [(1, 1), (3, 2), (2, 1)]  # 10:00, 11:00, 12:00 so far
    df = health.summarize_uptime(tx, now=now, windows=(H, 2 * H, 24 * H))
    redis_rows = df[df["component"] == "redis"].set_index("window")
    # 1 h: checks at 11:40, 12:00, 12:20 -> up, degraded, up
    assert redis_rows.loc["1 h", "checks"] == 3
    assert redis_rows.loc["1 h", "uptime_pct"] == pytest.approx(200 / 3)
    # 2 h (10:30-12:30): all six; raw head 10:40, hourly 11:00-12:00, raw tail 12:00-12:30
    assert redis_rows.loc["2 h", "checks"] == 6
    assert redis_rows.loc["2 h", "uptime_pct"] == pytest.approx(400 / 6)
    assert redis_rows.loc["24 h", "checks"] == 6
    assert df[df["component"] == "orca_core"]["checks"].eq(0).all()
    assert df[df["component"] == "orca_core"]["uptime_pct"].isna().all()

    checks = health.list_health_checks(tx, since=now - 2 * H, component="redis", limit=4)
    assert len(checks) == 4
    assert checks["checked_at"].is_monotonic_decreasing
    assert pd.isna(checks["message"].iloc[0]) and checks["status"].iloc[1] == "degraded"
    assert checks["message"].iloc[1] == "degraded <b>x</b>"  # stored as text, unchanged
    # Same moment and component again: the latest write wins.
    health.record_health_check(
        tx,
        component="redis",
        status="down",
        checked_at=now - 10 * M,
        latency_ms=None,
        message="gone",
    )
    again = health.list_health_checks(tx, since=now - 15 * M, component="redis")
    assert again["status"].tolist() == ["down"]


def test_rollups_match_raw_for_every_table(tx: Connection) -> None:
    for table in rollups.ROLLUP_SQL:
        _exec(tx, f"DELETE FROM {table}")
    written = rollups.refresh_rollups(tx, since=NOW - 10 * 24 * H)
    assert all(n > 0 for n in written.values()), written
    pairs = {
        "request_metrics": (
            "SELECT sum(request_count), sum(error_count), sum(b250), sum(binf) FROM request_metrics",
            "SELECT sum(request_count), sum(error_count), sum(b250), sum(binf) "
            "FROM request_metrics_hourly",
        ),
        "resource_samples": (
            "SELECT count(*), max(cpu_pct), sum(net_rx_bytes) FROM resource_samples",
            "SELECT sum(samples), max(cpu_max), sum(net_rx_bytes) FROM resource_samples_hourly",
        ),
        "health_checks": (
            "SELECT count(*), count(*) FILTER (WHERE status = 'up') FROM health_checks",
            "SELECT sum(checks), sum(up) FROM health_checks_hourly",
        ),
        "sync_lag_samples": (
            "SELECT count(*), max(lag_max_s) FROM sync_lag_samples",
            "SELECT sum(samples), max(lag_max_s) FROM sync_lag_samples_hourly",
        ),
    }
    for raw_sql, hourly_sql in pairs.values():
        raw = tx.execute(text(raw_sql)).one()
        hourly = tx.execute(text(hourly_sql)).one()
        assert [float(v) for v in raw] == pytest.approx([float(v) for v in hourly])
    # Re-running changes nothing (idempotent upsert).
    before = tx.execute(text("SELECT sum(request_count) FROM request_metrics_hourly")).scalar()
    rollups.refresh_rollups(tx, since=NOW - 10 * 24 * H)
    after = tx.execute(text("SELECT sum(request_count) FROM request_metrics_hourly")).scalar()
    assert before == after


def test_resource_series_paths_agree(tx: Connection) -> None:
    start, end = NOW - 6 * H, NOW
    raw = metrics.list_resource_series(tx, start=start, end=end, bucket=timedelta(minutes=30))
    hourly = metrics.list_resource_series(tx, start=start, end=end, bucket=H)
    # Fold the raw half-hours into hours by hand; means weighted by the minutes behind each.
    minutes = pd.DataFrame(
        tx.execute(
            text(
                "SELECT minute, instance, cpu_pct, disk_pct, db_connections FROM resource_samples "
                "WHERE minute >= :a AND minute < :b"
            ),
            {"a": start, "b": end},
        ).all(),
        columns=["minute", "instance", "cpu", "disk", "conn"],
    )
    minutes["ts"] = pd.to_datetime(minutes["minute"], utc=True).dt.floor("h")
    truth = minutes.groupby(["ts", "instance"]).agg(
        cpu=("cpu", "mean"), disk=("disk", "max"), conn=("conn", "max")
    )
    got = hourly.set_index(["ts", "instance"])
    assert len(got) == len(truth) == 6 * 3
    assert got["cpu_pct"].to_numpy() == pytest.approx(truth["cpu"].to_numpy())
    assert got["disk_pct"].to_numpy() == pytest.approx(truth["disk"].to_numpy())
    assert (got["db_connections"].to_numpy() == truth["conn"].to_numpy()).all()
    assert raw["net_rx_bytes"].sum() == hourly["net_rx_bytes"].sum()
    latest = metrics.summarize_resources_latest(tx, now=NOW)
    assert list(latest.columns) == [
        "instance",
        "minute",
        "cpu_pct",
        "memory_pct",
        "disk_pct",
        "db_conn_pct",
    ]


def test_percentiles_per_bucket_match_domain(tx: Connection) -> None:
    start, end = NOW - 2 * H, NOW
    df = metrics.list_request_series(
        tx, start=start, end=end, bucket=timedelta(minutes=15), route="/api/v1/agents", method="GET"
    )
    raw = pd.DataFrame(
        tx.execute(
            text(
                "SELECT minute, request_count, error_count, "
                + ", ".join(BUCKET_COLUMNS)
                + " FROM request_metrics WHERE route = '/api/v1/agents' AND method = 'GET' "
                "AND minute >= :a AND minute < :b"
            ),
            {"a": start, "b": end},
        ).all(),
        columns=["minute", "requests", "errors", *BUCKET_COLUMNS],
    )
    assert not raw.empty
    raw["ts"] = pd.to_datetime(raw["minute"], utc=True).dt.floor("15min")
    sums = raw.groupby("ts")[["requests", "errors", *BUCKET_COLUMNS]].sum()
    assert len(df) == len(sums) == 8
    for (_, row), (ts, truth) in zip(df.iterrows(), sums.iterrows(), strict=True):
        counts = [float(truth[c]) for c in BUCKET_COLUMNS]
        assert row["ts"] == ts
        assert row["requests"] == truth["requests"] and row["errors"] == truth["errors"]
        assert row["rps"] == pytest.approx(truth["requests"] / 900)
        assert row["p50_ms"] == pytest.approx(histogram_quantile(0.5, counts))
        assert row["p95_ms"] == pytest.approx(histogram_quantile(0.95, counts))
        assert row["p99_ms"] == pytest.approx(histogram_quantile(0.99, counts))
        assert row["error_rate_pct"] == pytest.approx(100 * truth["errors"] / truth["requests"])


def test_endpoint_stats_against_pandas(tx: Connection) -> None:
    start, end = NOW - 6 * H, NOW
    df = metrics.list_endpoint_stats(tx, start=start, end=end)
    raw = pd.DataFrame(
        tx.execute(
            text(
                "SELECT method, route, request_count, error_count, "
                + ", ".join(BUCKET_COLUMNS)
                + " FROM request_metrics WHERE minute >= :a AND minute < :b"
            ),
            {"a": start, "b": end},
        ).all(),
        columns=["method", "route", "requests", "errors", *BUCKET_COLUMNS],
    )
    truth = raw.groupby(["method", "route"]).sum()
    got = df.set_index(["method", "route"])
    assert set(got.index) == set(truth.index)
    for key, row in truth.iterrows():
        assert isinstance(key, tuple)
        assert got.loc[key, "requests"] == row["requests"]
        counts = [float(row[c]) for c in BUCKET_COLUMNS]
        assert got.loc[key, "p95_ms"] == pytest.approx(histogram_quantile(0.95, counts))
    assert metrics.list_endpoints(tx, since=start) == sorted(
        [(str(m), str(r)) for m, r in truth.index], key=lambda e: (e[1], e[0])
    )


def test_sync_gaps_filters(tx: Connection) -> None:
    _exec(tx, "DELETE FROM sync_gaps")
    for i, (sev, resolved) in enumerate(
        [("low", None), ("critical", None), ("high", NOW), ("critical", NOW), ("high", None)]
    ):
        _exec(
            tx,
            "INSERT INTO sync_gaps (source, target, gap_type, severity, detected_at, lag_ms, "
            "resolved_at) VALUES ('mcp', 'orca', 'stale_data', :s, :d, :l, :r)",
            s=sev,
            d=NOW - (10 - i) * M,
            l=1000 * i,
            r=resolved,
        )
    open_gaps = kpis.list_sync_gaps(tx)
    assert open_gaps["severity"].tolist() == ["critical", "high", "low"]
    assert open_gaps["resolved_at"].isna().all()
    every = kpis.list_sync_gaps(tx, open_only=False, severity="critical")
    assert every["lag_ms"].tolist() == [3000, 1000]  # newest first within a severity
    assert len(kpis.list_sync_gaps(tx, open_only=False, limit=2)) == 2

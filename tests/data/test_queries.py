"""Data functions against the seeded database, each checked against an independent computation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from dashboard.data import agents, health, kpis, metrics
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.errors import InvalidQuery
from dashboard.domain import kpi
from dashboard.domain.histogram import BUCKET_COLUMNS, histogram_quantile
from tests.conftest import SEED_DAYS, SEED_NOW

NOW = SEED_NOW
DAY = timedelta(days=1)


@pytest.fixture()
def conn(seeded_engine: Engine) -> Iterator[Connection]:
    with seeded_engine.connect() as c:
        yield c


def test_request_series_raw_and_rollup_agree(conn: Connection) -> None:
    start = (NOW - 2 * DAY).replace(minute=0)
    end = NOW.replace(minute=0)
    raw = metrics.list_request_series(conn, start=start, end=end, bucket=timedelta(minutes=15))
    hourly = metrics.list_request_series(conn, start=start, end=end, bucket=timedelta(hours=1))
    assert raw["requests"].sum() == hourly["requests"].sum() > 0
    assert raw["errors"].sum() == hourly["errors"].sum()
    truth = conn.execute(
        text("SELECT sum(request_count) FROM request_metrics WHERE minute >= :a AND minute < :b"),
        {"a": start, "b": end},
    ).scalar_one()
    assert raw["requests"].sum() == truth
    assert len(hourly) == 48
    assert (hourly["rps"] - hourly["requests"] / 3600).abs().max() < 1e-9


def test_percentiles_match_domain_function(conn: Connection) -> None:
    start, end = NOW - timedelta(hours=1), NOW
    df = metrics.list_request_series(
        conn,
        start=start,
        end=end,
        bucket=timedelta(hours=1),
        route="/api/v1/agents",
        method="GET",
    )
    sums = conn.execute(
        text(
            "SELECT "
            + ", ".join(f"sum({c})" for c in BUCKET_COLUMNS)
            + " FROM request_metrics_hourly "
            "WHERE hour >= :a AND hour < :b AND route = '/api/v1/agents' AND method = 'GET'"
        ),
        {"a": start, "b": end},
    ).one()
    if df.empty:
        assert all(v is None for v in sums)
        return
    assert df["p99_ms"].iloc[0] == pytest.approx(histogram_quantile(0.99, [float(v) for v in sums]))


def test_endpoint_stats_ranked_and_bounded(conn: Connection) -> None:
    df = metrics.list_endpoint_stats(conn, start=NOW - DAY, end=NOW)
    assert len(df) == 20
    rates = df["error_rate_pct"].dropna().to_numpy()
    assert (np.diff(rates) <= 1e-9).all()
    assert ((df["p50_ms"] <= df["p95_ms"]) & (df["p95_ms"] <= df["p99_ms"])).all()


def test_bad_inputs_rejected(conn: Connection) -> None:
    with pytest.raises(InvalidQuery, match="method"):
        metrics.list_request_series(
            conn, start=NOW - DAY, end=NOW, bucket=timedelta(hours=1), method="GET; DROP"
        )
    with pytest.raises(InvalidQuery, match="after its start"):
        metrics.list_endpoint_stats(conn, start=NOW, end=NOW - DAY)
    with pytest.raises(InvalidQuery, match="too many buckets"):
        metrics.list_request_series(
            conn, start=NOW - 30 * DAY, end=NOW, bucket=timedelta(minutes=1)
        )
    with pytest.raises(InvalidQuery, match="component"):
        health.list_health_checks(conn, since=NOW - DAY, component="<script>")
    with pytest.raises(InvalidQuery, match="severity"):
        kpis.list_sync_gaps(conn, severity="'; DROP TABLE agents; --")
    with pytest.raises(InvalidQuery, match="cannot group"):
        agents.count_agents_by(conn, dimension="name; DROP TABLE agents")


def test_resources(conn: Connection) -> None:
    df = metrics.list_resource_series(conn, start=NOW - DAY, end=NOW, bucket=timedelta(minutes=5))
    assert set(df["instance"]) == {"orca-core-1", "orca-core-2", "orca-db-1"}
    assert df["cpu_pct"].between(0, 100).all()
    assert (df["db_conn_pct"] == 100 * df["db_connections"] / df["db_pool_size"]).all()
    latest = metrics.summarize_resources_latest(conn, now=NOW)
    assert len(latest) == 3 and (latest["minute"] <= NOW).all()


def test_uptime_matches_raw_checks(conn: Connection) -> None:
    df = health.summarize_uptime(conn, now=NOW, windows=(DAY,))
    up, total = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE status = 'up'), count(*) FROM health_checks "
            "WHERE component = 'orca_core' AND checked_at >= date_trunc('hour', CAST(:a AS timestamptz)) "
            "AND checked_at <= :b"
        ),
        {"a": NOW - DAY, "b": NOW},
    ).one()
    row = df[df["component"] == "orca_core"].iloc[0]
    assert row["checks"] == total
    assert row["uptime_pct"] == pytest.approx(100 * up / total)
    assert row["window"] == "24 h"


def test_kpi_summary_against_raw(conn: Connection) -> None:
    s = kpis.summarize_kpis(conn, start=NOW - DAY, end=NOW, now=NOW)
    trust = conn.execute(
        text("SELECT avg(trust_score) FROM agents WHERE status='active'")
    ).scalar_one()
    assert s.trust_score == pytest.approx(trust)
    assert s.trust_band == kpi.trust_band(trust)
    blocked = conn.execute(
        text(
            "SELECT severity, count(*) FROM policy_violations WHERE action='blocked' "
            "AND occurred_at >= :a AND occurred_at < :b GROUP BY severity"
        ),
        {"a": NOW - DAY, "b": NOW},
    ).all()
    assert s.risk_avoided_usd == kpi.risk_avoided_usd({k: v for k, v in blocked})
    lags = [
        r[0]
        for r in conn.execute(
            text(
                "SELECT extract(epoch FROM (CAST(:n AS timestamptz) - last_success_at)) FROM data_sources"
            ),
            {"n": NOW},
        )
    ]
    assert s.sync_freshness_pct == pytest.approx(
        kpi.sync_freshness_percent([float(x) for x in lags])
    )
    rows = conn.execute(
        text(
            "SELECT severity, occurred_at, resolved_at FROM policy_violations "
            "WHERE occurred_at >= :a AND occurred_at < :b"
        ),
        {"a": NOW - DAY, "b": NOW},
    ).all()
    assert s.compliance_sla_pct == pytest.approx(kpi.compliance_sla_percent(rows, NOW))
    assert s.total_agents == 400 and 0 <= s.drift_rate_pct <= 100


def test_snapshot_and_series(conn: Connection) -> None:
    snap = kpis.compute_kpi_snapshot(conn, now=NOW)
    assert snap.total_agents == 400 and snap.trust_score is not None
    series = kpis.list_kpi_series(
        conn, start=NOW - SEED_DAYS * DAY, end=NOW, bucket=timedelta(hours=1)
    )
    assert 70 <= len(series) <= 72
    assert series["trust_score"].between(0, 100).all()
    ra = kpis.list_risk_avoided_series(
        conn, start=NOW - SEED_DAYS * DAY, end=NOW, bucket=timedelta(hours=6)
    )
    assert ra["cumulative_usd"].is_monotonic_increasing
    assert ra["cumulative_usd"].iloc[-1] == pytest.approx(ra["risk_avoided_usd"].sum())


def test_sync_views(conn: Connection) -> None:
    by_source = kpis.list_sync_lag_by_source(conn, now=NOW)
    total = conn.execute(text("SELECT count(*) FROM data_sources")).scalar_one()
    assert by_source["data_sources"].sum() == total
    assert by_source["freshness_pct"].is_monotonic_increasing
    gaps = kpis.list_sync_gaps(conn, open_only=True)
    assert gaps["resolved_at"].isna().all()
    high = kpis.list_sync_gaps(conn, open_only=False, severity="high")
    assert set(high["severity"]) <= {"high"}
    lag = kpis.list_sync_lag_series(conn, start=NOW - DAY, end=NOW, bucket=timedelta(hours=1))
    assert set(lag["source"]) <= {"mcp", "zapier", "make", "n8n", "airflow", "lambda", "manual"}


def test_trust_drivers(conn: Connection) -> None:
    drivers = kpis.summarize_trust_drivers(conn, start=NOW - 2 * DAY, end=NOW, limit=10)
    assert list(drivers.components["component"]) == [
        "reliability",
        "policy_adherence",
        "sync_freshness",
        "risk_exposure",
    ]
    if not drivers.agents.empty:
        assert (drivers.agents["delta"] < 0).all()
        assert drivers.agents["delta"].is_monotonic_increasing


def test_registry_counts_and_discovery(conn: Connection) -> None:
    by_status = agents.count_agents_by(conn, dimension="status")
    assert by_status["agents"].sum() == 400
    disc = agents.list_discovery_rate(
        conn, start=NOW - SEED_DAYS * DAY, end=NOW + timedelta(minutes=1), bucket=DAY
    )
    truth = conn.execute(
        text("SELECT count(*) FROM agents WHERE discovered_at >= :a"), {"a": NOW - SEED_DAYS * DAY}
    ).scalar_one()
    assert disc["agents"].sum() == truth
    quarantined = agents.list_quarantined_agents(conn, limit=1000)
    assert len(quarantined) == int(by_status.set_index("value")["agents"].get("quarantined", 0))


def _walk(conn: Connection, filters: AgentFilter, sort: str, descending: bool) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        page = agents.search_agents(
            conn, filters=filters, sort=sort, descending=descending, cursor=cursor, page_size=37
        )
        assert len(page.rows) <= 37
        seen += [int(i) for i in page.rows["id"]]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("sort", ["name", "trust_score", "discovered_at", "last_seen_at", "owner"])
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_walks_every_agent_once_in_order(
    conn: Connection, sort: str, descending: bool
) -> None:
    filters = AgentFilter()
    ids = _walk(conn, filters, sort, descending)
    assert len(ids) == len(set(ids)) == 400
    df = pd.DataFrame(
        conn.execute(text(f"SELECT id, {sort} AS v FROM agents")).all(), columns=["id", "v"]
    )
    nonnull = df[df["v"].notna()].sort_values(["v", "id"], ascending=not descending)
    nulls = df[df["v"].isna()].sort_values("id", ascending=not descending)
    assert ids == list(nonnull["id"]) + list(nulls["id"])


def test_keyset_with_null_trust_scores(seeded_engine: Engine) -> None:
    with seeded_engine.connect() as conn:
        tx = conn.begin()
        conn.execute(text("UPDATE agents SET trust_score = NULL WHERE id % 9 = 0"))
        s = conn  # the connection under test
        for desc in (False, True):
            ids = _walk(s, AgentFilter(), "trust_score", desc)
            assert len(ids) == len(set(ids)) == 400
        tx.rollback()


def test_filters(conn: Connection) -> None:
    f = AgentFilter(statuses=("active",), vendors=("openai", "anthropic"), trust_min=50)
    ids = _walk(conn, f, "name", False)
    truth = conn.execute(
        text(
            "SELECT count(*) FROM agents WHERE status='active' AND vendor IN ('openai','anthropic') "
            "AND trust_score >= 50"
        )
    ).scalar_one()
    assert len(ids) == truth == agents.count_agents(conn, filters=f)
    hostile = AgentFilter(name_query="<img src=x onerror=alert(1)>")
    page = agents.search_agents(conn, filters=hostile)
    assert "<img src=x onerror=alert(1)>" in set(page.rows["name"])
    injection = AgentFilter(name_query="'; DROP TABLE agents; --", owner="x%' OR 1=1 --")
    assert agents.count_agents(conn, filters=injection) == 0
    assert conn.execute(text("SELECT count(*) FROM agents")).scalar_one() == 400
    by_id = agents.search_agents(conn, filters=AgentFilter(name_query="17"))
    assert list(by_id.rows["id"]) == [17]


def test_filter_validation_and_query_params() -> None:
    f = AgentFilter.from_query_params(
        {"status": "active,quarantined", "q": "bot", "trust_min": "40"}
    )
    assert f.statuses == ("active", "quarantined") and f.trust_min == 40
    assert AgentFilter.from_query_params(f.to_query_params()) == f
    with pytest.raises(InvalidQuery, match="unknown status"):
        AgentFilter(statuses=("gone",))
    with pytest.raises(InvalidQuery, match="number between 0 and 100"):
        AgentFilter.from_query_params({"trust_min": "lots"})
    with pytest.raises(InvalidQuery, match="above maximum"):
        AgentFilter(trust_min=80, trust_max=20)


def test_bad_cursor_and_sort(conn: Connection) -> None:
    page = agents.search_agents(conn, filters=AgentFilter(), page_size=5)
    assert page.next_cursor
    tampered = page.next_cursor[:-1] + ("0" if page.next_cursor[-1] != "0" else "1")
    for bad in (tampered, "garbage", "x.y", page.next_cursor + "=="):
        with pytest.raises(InvalidQuery, match="page link"):
            agents.search_agents(conn, filters=AgentFilter(), cursor=bad)
    with pytest.raises(InvalidQuery, match="page link"):  # cursor of another sort
        agents.search_agents(conn, filters=AgentFilter(), sort="owner", cursor=page.next_cursor)
    with pytest.raises(InvalidQuery, match="cannot sort"):
        agents.search_agents(conn, filters=AgentFilter(), sort="name; DROP TABLE agents")
    with pytest.raises(InvalidQuery, match="page size"):
        agents.search_agents(conn, filters=AgentFilter(), page_size=5000)


def test_agent_detail(conn: Connection) -> None:
    detail = agents.get_agent_detail(conn, agent_id=1, now=NOW)
    assert detail is not None
    assert detail.agent["id"] == 1
    assert not detail.trust_history.empty
    assert detail.trust_history["computed_at"].is_monotonic_increasing
    assert not detail.status_history.empty
    assert agents.get_agent_detail(conn, agent_id=10**9) is None
    with pytest.raises(InvalidQuery):
        agents.get_agent_detail(conn, agent_id=-3)

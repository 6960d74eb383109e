"""The simulator: every table filled, valid vocabulary, consistent stories, histograms, rollups,
KPI snapshots that match the live KPI queries, timestamps in range, determinism, refusal.

Most checks read the session's seeded database (other tests may add rows to it at the real
current time, so they look at the seeded period only); the strict ones (every timestamp in
range, the snapshot at ``now`` against the live KPIs, determinism) use a twin database seeded
the same way, that nothing else touches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from dashboard.data.kpis import compute_kpi_snapshot
from dashboard.domain import enums, kpi
from dashboard.domain.histogram import BUCKET_COLUMNS, histogram_quantile
from dashboard.settings import to_sqlalchemy_url
from dashboard.sim.seed import TABLES, SeedError, SeedReport, seed_database
from dashboard.sim.vocab import ENDPOINTS, HOSTILE_NAMES, INSTANCES, INTEGRATIONS
from tests.conftest import SEED_AGENTS, SEED_DAYS, SEED_NOW, MakeDatabase

START = SEED_NOW - timedelta(days=SEED_DAYS)
PERIOD = {"start": START, "now": SEED_NOW}


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


@pytest.fixture(scope="module")
def twin(make_database: MakeDatabase) -> Iterator[tuple[Engine, SeedReport]]:
    """A second database seeded exactly like the session's, which no other test touches."""
    with make_database("orca_sim_twin") as db:
        other = create_engine(
            to_sqlalchemy_url(db.url), connect_args={"options": "-c timezone=UTC"}
        )
        try:
            report = seed_database(other, agents=SEED_AGENTS, days=SEED_DAYS, seed=7, now=SEED_NOW)
            yield other, report
        finally:
            other.dispose()


def test_every_table_is_filled(seeded_engine: Engine) -> None:
    for table in TABLES:
        assert _scalar(seeded_engine, f"SELECT count(*) FROM {table}") > 0, table
    assert _scalar(seeded_engine, "SELECT count(*) FROM agents") == SEED_AGENTS


def test_report_counts_the_rows(twin: tuple[Engine, SeedReport]) -> None:
    engine, report = twin
    assert set(report.rows) == set(TABLES)
    for table, count in report.rows.items():
        assert _scalar(engine, f"SELECT count(*) FROM {table}") == count, table
    assert report.seconds > 0 and report.now == SEED_NOW
    assert report.total_rows == sum(report.rows.values())
    assert "rollups" in report.timings and "copy request_metrics" in report.timings


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("agents", "status", enums.AgentStatus),
        ("agents", "type", enums.AgentType),
        ("agents", "vendor", enums.Vendor),
        ("agents", "compliance_tier", enums.ComplianceTier),
        ("agents", "discovery_source", enums.DiscoverySource),
        ("agent_status_changes", "to_status", enums.AgentStatus),
        ("policy_violations", "severity", enums.Severity),
        ("policy_violations", "action", enums.ViolationAction),
        ("data_sources", "source", enums.DiscoverySource),
        ("sync_gaps", "gap_type", enums.GapType),
        ("sync_gaps", "severity", enums.Severity),
        ("drift_detections", "kind", enums.DriftKind),
        ("request_metrics", "status_class", enums.StatusClass),
        ("health_checks", "status", enums.CheckStatus),
        ("health_checks", "component", enums.Component),
    ],
)
def test_vocabulary_is_the_domains(
    seeded_engine: Engine, table: str, column: str, enum: type[StrEnum]
) -> None:
    found = {r[0] for r in _rows(seeded_engine, f"SELECT DISTINCT {column} FROM {table}")}
    assert found <= set(enums.values(enum)), found - set(enums.values(enum))
    assert found, f"{table}.{column} is empty"


def test_every_value_of_the_main_vocabularies_occurs(seeded_engine: Engine) -> None:
    for table, column, enum in (
        ("agents", "status", enums.AgentStatus),
        ("agents", "discovery_source", enums.DiscoverySource),
        ("agents", "compliance_tier", enums.ComplianceTier),
        ("policy_violations", "action", enums.ViolationAction),
        ("request_metrics", "status_class", enums.StatusClass),
        ("health_checks", "status", enums.CheckStatus),
        ("health_checks", "component", enums.Component),
    ):
        found = {r[0] for r in _rows(seeded_engine, f"SELECT DISTINCT {column} FROM {table}")}
        assert found == set(enums.values(enum)), (table, column)


def test_discovery_and_the_review_queue(seeded_engine: Engine) -> None:
    sources = {r[0] for r in _rows(seeded_engine, "SELECT DISTINCT discovery_source FROM agents")}
    assert {"mcp", "zapier", "make", "n8n", "airflow", "lambda"} <= sources
    unreviewed = _rows(
        seeded_engine,
        """SELECT quarantine_reason, quarantined_by, quarantined_at, discovered_at
           FROM agents WHERE status = 'quarantined' AND reviewed_at IS NULL""",
    )
    assert unreviewed, "newly discovered agents wait for review in quarantine"
    for reason, by, at, discovered in unreviewed:
        assert by == "discovery" and "awaiting review" in reason and at == discovered
    # Every quarantined agent says why, who and when; no other agent carries those fields.
    assert (
        _scalar(
            seeded_engine,
            """SELECT count(*) FROM agents WHERE (status = 'quarantined') <>
                   (quarantine_reason IS NOT NULL AND quarantined_by IS NOT NULL
                    AND quarantined_at IS NOT NULL)""",
        )
        == 0
    )
    # Discovery grows: the second half of the period finds more agents than the first.
    first, second = _rows(
        seeded_engine,
        """SELECT count(*) FILTER (WHERE discovered_at > :start
                                    AND discovered_at < :start + (:now - :start) / 2),
                  count(*) FILTER (WHERE discovered_at >= :start + (:now - :start) / 2)
           FROM agents""",
        **PERIOD,
    )[0]
    assert second > first > 0


def test_hostile_names_survive_exactly(seeded_engine: Engine) -> None:
    names = {r[0] for r in _rows(seeded_engine, "SELECT name FROM agents")}
    assert set(HOSTILE_NAMES) <= names
    assert _scalar(seeded_engine, "SELECT name FROM agents WHERE id = 1") == HOSTILE_NAMES[0]
    assert any(len(n) == 300 for n in names)
    meta = _scalar(seeded_engine, "SELECT metadata FROM agents WHERE name = :n", n=HOSTILE_NAMES[0])
    assert meta["note"].startswith("<script>") and meta["nested"]["name"] == HOSTILE_NAMES[0]
    ordinary = _scalar(seeded_engine, "SELECT name FROM agents WHERE id = 2")
    parts = ordinary.split("-")
    assert len(parts) == 4 and parts[-1] == "0002"  # like invoice-triage-bot-0042


def test_status_history_tells_each_agents_story(seeded_engine: Engine) -> None:
    mismatched = _scalar(
        seeded_engine,
        """SELECT count(*) FROM agents a
           JOIN LATERAL (SELECT to_status FROM agent_status_changes c WHERE c.agent_id = a.id
                         ORDER BY changed_at DESC LIMIT 1) last ON true
           WHERE last.to_status <> a.status""",
    )
    assert mismatched == 0
    first = _rows(
        seeded_engine,
        """SELECT DISTINCT ON (agent_id) from_status, changed_at = a.discovered_at
           FROM agent_status_changes c JOIN agents a ON a.id = c.agent_id
           ORDER BY agent_id, changed_at""",
    )
    assert len(first) == SEED_AGENTS and all(f is None and same for f, same in first)
    kinds = {
        (r[0], r[1])
        for r in _rows(
            seeded_engine, "SELECT DISTINCT from_status, to_status FROM agent_status_changes"
        )
    }
    assert {(None, "quarantined"), ("quarantined", "active"), (None, "active")} <= kinds


def test_trust_history_matches_agents_and_the_formula(seeded_engine: Engine) -> None:
    # agents.trust_score is its latest history row, and every agent is scored at `now`.
    assert (
        _scalar(
            seeded_engine,
            """SELECT count(*) FROM agents a WHERE a.trust_score IS DISTINCT FROM
                   (SELECT h.score FROM agent_trust_history h WHERE h.agent_id = a.id
                    AND h.computed_at <= :now ORDER BY h.computed_at DESC LIMIT 1)""",
            now=SEED_NOW,
        )
        == 0
    )
    assert (
        _scalar(
            seeded_engine,
            "SELECT count(DISTINCT agent_id) FROM agent_trust_history WHERE computed_at = :now",
            now=SEED_NOW,
        )
        == SEED_AGENTS
    )
    rows = _rows(
        seeded_engine,
        """SELECT h.score, h.reliability, h.policy_adherence, h.sync_freshness, h.risk_exposure,
                  a.compliance_tier, s.to_status
           FROM agent_trust_history h JOIN agents a ON a.id = h.agent_id
           JOIN LATERAL (SELECT to_status FROM agent_status_changes c
                         WHERE c.agent_id = h.agent_id AND c.changed_at <= h.computed_at
                         ORDER BY c.changed_at DESC LIMIT 1) s ON true
           WHERE h.computed_at <= :now""",
        now=SEED_NOW,
    )
    assert len(rows) >= 2 * SEED_AGENTS  # a few points per agent
    for score, rel, adh, fre, risk, tier, status in rows:
        assert score == pytest.approx(kpi.agent_trust_score(rel, adh, fre, risk))
        assert risk == pytest.approx(kpi.risk_exposure(tier, status == "quarantined"))
    # Freshness now is the agent's share of data sources within the SLO (1 with none).
    bad = _scalar(
        seeded_engine,
        """SELECT count(*) FROM agent_trust_history h
           LEFT JOIN LATERAL (
               SELECT count(*) AS total,
                      count(*) FILTER (WHERE d.last_success_at >= CAST(:now AS timestamptz)
                                                                - interval '60 seconds') AS fresh
               FROM data_sources d WHERE d.agent_id = h.agent_id) s ON true
           WHERE h.computed_at = :now AND abs(h.sync_freshness -
               CASE WHEN s.total = 0 THEN 1.0 ELSE s.fresh::float / s.total END) > 1e-9""",
        now=SEED_NOW,
    )
    assert bad == 0


def test_histograms_sum_to_counts(seeded_engine: Engine) -> None:
    total = " + ".join(BUCKET_COLUMNS)
    bad = _scalar(
        seeded_engine,
        f"""SELECT count(*) FROM request_metrics WHERE minute < :now AND (
               {total} <> request_count OR request_count <= 0
               OR error_count <> CASE status_class WHEN '5xx' THEN request_count ELSE 0 END
               OR latency_sum_ms <= 0)""",
        now=SEED_NOW,
    )
    assert bad == 0
    routes = _rows(seeded_engine, "SELECT DISTINCT method, route FROM request_metrics")
    assert {(m, r) for m, r, _, _ in ENDPOINTS} <= set(routes)


def test_rollups_equal_sums_of_raw_rows(seeded_engine: Engine) -> None:
    sums = ", ".join(f"sum({c})" for c in ("request_count", "error_count", *BUCKET_COLUMNS))
    cols = ", ".join(("request_count", "error_count", *BUCKET_COLUMNS))
    checks = {
        "request_metrics": f"""
            (SELECT date_trunc('hour', minute), method, route, status_class, {sums}
             FROM request_metrics WHERE minute < :now GROUP BY 1, 2, 3, 4)
            EXCEPT ALL
            (SELECT hour, method, route, status_class, {cols}
             FROM request_metrics_hourly WHERE hour < :now)""",
        "resource_samples": """
            (SELECT date_trunc('hour', minute), instance, count(*), max(cpu_pct),
                    max(memory_pct), max(disk_pct), max(db_connections), max(db_pool_size),
                    sum(net_rx_bytes), sum(net_tx_bytes)
             FROM resource_samples WHERE minute < :now GROUP BY 1, 2)
            EXCEPT ALL
            (SELECT hour, instance, samples, cpu_max, memory_max, disk_max, db_connections_max,
                    db_pool_size, net_rx_bytes, net_tx_bytes
             FROM resource_samples_hourly WHERE hour < :now)""",
        "health_checks": """
            (SELECT date_trunc('hour', checked_at), component, count(*),
                    count(*) FILTER (WHERE status = 'up'),
                    count(*) FILTER (WHERE status = 'degraded'),
                    count(*) FILTER (WHERE status = 'down'), max(latency_ms)
             FROM health_checks WHERE checked_at < :now GROUP BY 1, 2)
            EXCEPT ALL
            (SELECT hour, component, checks, up, degraded, down, latency_max_ms
             FROM health_checks_hourly WHERE hour < :now)""",
        "sync_lag_samples": """
            (SELECT date_trunc('hour', minute), source, count(*), max(sources_total),
                    max(lag_max_s)
             FROM sync_lag_samples WHERE minute < :now GROUP BY 1, 2)
            EXCEPT ALL
            (SELECT hour, source, samples, sources_total, lag_max_s
             FROM sync_lag_samples_hourly WHERE hour < :now)""",
    }
    for table, sql in checks.items():
        assert _rows(seeded_engine, sql, now=SEED_NOW) == [], table
    hours = SEED_DAYS * 24
    assert (
        _scalar(
            seeded_engine,
            "SELECT count(DISTINCT hour) FROM request_metrics_hourly WHERE hour < :now",
            now=SEED_NOW,
        )
        == hours
    )
    # Averages agree too (within float rounding).
    diff = _scalar(
        seeded_engine,
        """SELECT max(abs(h.cpu_avg - r.avg) + abs(h.memory_avg - r.mem)) FROM resource_samples_hourly h
           JOIN (SELECT date_trunc('hour', minute) AS hour, instance, avg(cpu_pct) AS avg,
                        avg(memory_pct) AS mem
                 FROM resource_samples GROUP BY 1, 2) r USING (hour, instance)
           WHERE h.hour < :now""",
        now=SEED_NOW,
    )
    assert diff < 1e-6


def test_incidents_are_visible(seeded_engine: Engine) -> None:
    # The guide's P1: error rate above 5 % for more than 5 minutes, over all routes.
    burst = _scalar(
        seeded_engine,
        """WITH m AS (
               SELECT minute, sum(error_count) > 0.05 * sum(request_count) AS bad
               FROM request_metrics WHERE minute < :now GROUP BY minute),
           runs AS (
               SELECT minute, bad,
                      minute - (row_number() OVER (PARTITION BY bad ORDER BY minute))
                               * interval '1 minute' AS grp
               FROM m)
           SELECT coalesce(max(n), 0) FROM (
               SELECT count(*) AS n FROM runs WHERE bad GROUP BY grp) r""",
        now=SEED_NOW,
    )
    assert burst > 5
    # A latency spike: some route's p99 in some minute far above its usual p99.
    rows = _rows(
        seeded_engine,
        f"""SELECT route, {", ".join(BUCKET_COLUMNS)} FROM request_metrics
            WHERE status_class = '2xx' AND request_count >= 20 AND minute < :now""",
        now=SEED_NOW,
    )
    p99: dict[str, list[float]] = {}
    for route, *buckets in rows:
        value = histogram_quantile(0.99, [float(b) for b in buckets])
        assert value is not None
        p99.setdefault(route, []).append(value)
    spiking = [r for r, v in p99.items() if max(v) > 500 and sorted(v)[len(v) // 2] < max(v) / 3]
    assert spiking
    # Outages: down and degraded checks with messages; up checks carry none.
    outages = _rows(
        seeded_engine,
        """SELECT status, count(*), count(message), count(latency_ms) FROM health_checks
           WHERE checked_at < :now GROUP BY status""",
        now=SEED_NOW,
    )
    by_status = {s: (n, msgs, lat) for s, n, msgs, lat in outages}
    assert by_status["up"][1] == 0
    assert by_status["down"][0] > 0 and by_status["down"][1] == by_status["down"][0]
    assert by_status["down"][2] == 0  # no answer, no latency
    assert by_status["degraded"][1] == by_status["degraded"][0]


def test_resources_health_and_sync_shapes(seeded_engine: Engine) -> None:
    minutes = SEED_DAYS * 1440
    per_instance = dict(
        _rows(
            seeded_engine,
            "SELECT instance, count(*) FROM resource_samples WHERE minute < :now GROUP BY 1",
            now=SEED_NOW,
        )
    )
    assert per_instance == dict.fromkeys(INSTANCES, minutes)
    assert _scalar(seeded_engine, "SELECT max(db_connections) <= 50 FROM resource_samples")
    assert _scalar(seeded_engine, "SELECT bool_and(db_pool_size = 50) FROM resource_samples")
    # A high-CPU stretch long enough for the guide's P2 (> 80 % for > 15 min).
    assert (
        _scalar(
            seeded_engine,
            """SELECT count(*) FROM (
                   SELECT instance, minute, cpu_pct,
                          min(cpu_pct) OVER (PARTITION BY instance ORDER BY minute
                                             ROWS BETWEEN 15 PRECEDING AND CURRENT ROW) AS low
                   FROM resource_samples) s WHERE low > 80""",
        )
        > 0
    )
    per_component = _rows(
        seeded_engine,
        "SELECT count(*) FROM health_checks WHERE checked_at < :now GROUP BY component",
        now=SEED_NOW,
    )
    assert [r[0] for r in per_component] == [minutes] * len(enums.Component)
    sources = _rows(
        seeded_engine,
        """SELECT source, count(*), min(sources_stale), bool_and(sources_stale <= sources_total)
           FROM sync_lag_samples WHERE minute < :now GROUP BY 1""",
        now=SEED_NOW,
    )
    assert {r[0] for r in sources} <= set(INTEGRATIONS) and len(sources) >= 5
    assert all(n == minutes and ok for _, n, _, ok in sources)
    assert _scalar(seeded_engine, "SELECT max(lag_max_s) FROM sync_lag_samples") > 300


def test_data_sources_and_events(seeded_engine: Engine) -> None:
    status = dict(_rows(seeded_engine, "SELECT status, count(*) FROM data_sources GROUP BY 1"))
    assert status["ok"] > 10 * status.get("lagging", 0) > 0
    per_agent = _rows(
        seeded_engine,
        "SELECT count(*) FROM data_sources GROUP BY agent_id",
    )
    assert {r[0] for r in per_agent} <= {1, 2, 3}
    # Violations: 1-5 a day per 100 agents; most resolved within their severity's SLA.
    per_day = _scalar(
        seeded_engine,
        "SELECT count(*)::float / :days FROM policy_violations WHERE occurred_at <= :now",
        days=SEED_DAYS,
        now=SEED_NOW,
    )
    assert 0.5 <= per_day / (SEED_AGENTS / 100) <= 5
    on_time, late, still_open = _rows(
        seeded_engine,
        """SELECT count(*) FILTER (WHERE resolved_at <= occurred_at + CASE severity
                      WHEN 'critical' THEN interval '1 hour' WHEN 'high' THEN interval '4 hours'
                      WHEN 'medium' THEN interval '24 hours' ELSE interval '7 days' END),
                  count(*) FILTER (WHERE resolved_at > occurred_at + CASE severity
                      WHEN 'critical' THEN interval '1 hour' WHEN 'high' THEN interval '4 hours'
                      WHEN 'medium' THEN interval '24 hours' ELSE interval '7 days' END),
                  count(*) FILTER (WHERE resolved_at IS NULL)
           FROM policy_violations WHERE occurred_at <= :now""",
        now=SEED_NOW,
    )[0]
    assert on_time > late > 0 and still_open > 0
    assert _scalar(seeded_engine, "SELECT count(*) FROM sync_gaps WHERE resolved_at IS NULL") > 0
    drift = _rows(
        seeded_engine,
        "SELECT count(*), count(*) FILTER (WHERE resolved_at IS NULL) FROM drift_detections",
    )[0]
    assert drift[0] > drift[1] > 0
    assert (
        _scalar(
            seeded_engine,
            "SELECT count(*) FROM drift_detections WHERE score < 0 OR score > 100",
        )
        == 0
    )


def test_every_timestamp_within_the_period(twin: tuple[Engine, SeedReport]) -> None:
    engine, _ = twin
    columns = {
        "agents": (
            "discovered_at",
            "last_seen_at",
            "quarantined_at",
            "reviewed_at",
            "missing_since",
            "updated_at",
        ),
        "agent_status_changes": ("changed_at",),
        "agent_trust_history": ("computed_at",),
        "policy_violations": ("occurred_at", "resolved_at"),
        "data_sources": ("last_success_at", "last_attempt_at"),
        "sync_gaps": ("detected_at", "resolved_at"),
        "drift_detections": ("detected_at", "resolved_at"),
        "request_metrics": ("minute",),
        "resource_samples": ("minute",),
        "health_checks": ("checked_at",),
        "sync_lag_samples": ("minute",),
        "kpi_snapshots": ("computed_at",),
        "request_metrics_hourly": ("hour",),
        "resource_samples_hourly": ("hour",),
        "health_checks_hourly": ("hour",),
        "sync_lag_samples_hourly": ("hour",),
    }
    for table, cols in columns.items():
        for col in cols:
            lo, hi = _rows(engine, f"SELECT min({col}), max({col}) FROM {table}")[0]
            if lo is None:
                continue
            assert START - timedelta(hours=1) < lo and hi <= SEED_NOW, (table, col, lo, hi)
            if not table.endswith("_hourly"):
                assert lo >= START, (table, col, lo)
    for a, b in (
        ("policy_violations", "occurred_at <= resolved_at"),
        ("sync_gaps", "detected_at <= resolved_at"),
        ("drift_detections", "detected_at <= resolved_at"),
        ("agents", "discovered_at <= reviewed_at"),
        ("agents", "discovered_at <= last_seen_at"),
        ("data_sources", "last_success_at <= last_attempt_at"),
    ):
        assert _scalar(engine, f"SELECT bool_and({b}) FROM {a}") is not False, (a, b)


def test_kpi_snapshot_at_now_equals_the_live_kpis(twin: tuple[Engine, SeedReport]) -> None:
    engine, _ = twin
    with engine.connect() as conn:
        live = compute_kpi_snapshot(conn, now=SEED_NOW)
        seeded = (
            conn.execute(
                text("SELECT * FROM kpi_snapshots WHERE origin = 'seed' AND computed_at = :n"),
                {"n": SEED_NOW},
            )
            .mappings()
            .one()
        )
    for name in (
        "trust_score",
        "reliability",
        "policy_adherence",
        "sync_freshness",
        "risk_exposure",
        "risk_avoided_usd_total",
        "sync_freshness_pct",
        "drift_rate_pct",
        "compliance_sla_pct",
        "active_agents",
        "total_agents",
        "quarantined_agents",
    ):
        assert seeded[name] == pytest.approx(getattr(live, name), rel=1e-9, abs=1e-9), name
    # Every 5 minutes over the whole period; RA$ only grows.
    snaps = _rows(
        engine,
        """SELECT count(*), bool_and(risk_avoided_usd_total >= prev) FROM (
               SELECT risk_avoided_usd_total,
                      lag(risk_avoided_usd_total, 1, 0) OVER (ORDER BY computed_at) AS prev
               FROM kpi_snapshots WHERE origin = 'seed') s""",
    )[0]
    assert snaps[0] == SEED_DAYS * 24 * 12 + 1 and snaps[1]


def test_same_seed_same_rows(seeded_engine: Engine, twin: tuple[Engine, SeedReport]) -> None:
    engine, _ = twin
    checks = [
        """SELECT md5(string_agg(concat_ws('|', id, name, external_id, discovery_source, type,
                  vendor, compliance_tier, owner, discovered_at), ',' ORDER BY id)) FROM agents""",
        """SELECT md5(string_agg(concat_ws('|', agent_id, computed_at, score, reliability),
                  ',' ORDER BY agent_id, computed_at))
           FROM agent_trust_history WHERE computed_at <= :now""",
        """SELECT md5(string_agg(concat_ws('|', agent_id, policy_id, severity, action,
                  occurred_at, resolved_at), ',' ORDER BY occurred_at, agent_id))
           FROM policy_violations WHERE occurred_at <= :now""",
        """SELECT md5(string_agg(concat_ws('|', minute, method, route, status_class,
                  request_count, b250, latency_sum_ms), ',' ORDER BY minute, method, route,
                  status_class))
           FROM request_metrics WHERE minute < :now""",
        """SELECT md5(string_agg(concat_ws('|', checked_at, component, status, latency_ms),
                  ',' ORDER BY checked_at, component))
           FROM health_checks WHERE checked_at < :now""",
        """SELECT md5(string_agg(concat_ws('|', computed_at, trust_score, drift_rate_pct,
                  compliance_sla_pct), ',' ORDER BY computed_at))
           FROM kpi_snapshots WHERE origin = 'seed'""",
    ]
    for sql in checks:
        assert _scalar(engine, sql, now=SEED_NOW) == _scalar(seeded_engine, sql, now=SEED_NOW), sql


def test_refuses_a_database_with_agents(seeded_engine: Engine) -> None:
    before = _scalar(seeded_engine, "SELECT count(*) FROM agent_status_changes")
    with pytest.raises(SeedError, match="already holds agents"):
        seed_database(seeded_engine, agents=10, days=1, seed=1, now=SEED_NOW)
    assert _scalar(seeded_engine, "SELECT count(*) FROM agent_status_changes") == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"agents": 0, "days": 1}, "agents must be"),
        ({"agents": 10, "days": 0}, "days must be"),
        ({"agents": 10, "days": 91}, "days must be"),
        ({"agents": 10, "days": 1, "now": SEED_NOW.replace(tzinfo=None)}, "time zone"),
    ],
)
def test_rejects_bad_arguments(engine: Engine, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        seed_database(engine, seed=1, **kwargs)

"""Executive KPIs: Trust Score, Risk Avoided $, Sync Freshness, Drift Rate, Compliance SLA."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from dashboard.data import totals, trust_rollups
from dashboard.data.cache import register
from dashboard.data.errors import InvalidQuery
from dashboard.data.sql import BIN_ORIGIN, check_range, frame, series_source
from dashboard.domain import kpi
from dashboard.domain.enums import Severity, values

# SQL CASE expressions built from the constants of dashboard.domain.kpi (one source of truth).
_COST_CASE = (
    "CASE severity "
    + " ".join(f"WHEN '{sev}' THEN {float(cost)}" for sev, cost in kpi.SEVERITY_COST_USD.items())
    + " ELSE 0 END"
)
_DEADLINE_CASE = (
    "CASE severity "
    + " ".join(
        f"WHEN '{sev}' THEN interval '{int(d.total_seconds())} seconds'"
        for sev, d in kpi.SLA_DEADLINES.items()
    )
    + " END"
)
# How far back an agent's latest trust scoring may lie to count in a snapshot's components.
TRUST_LOOKBACK = timedelta(days=8)


@register
@dataclass(frozen=True)
class KpiSummary:
    """The five executive KPIs and the counts behind them.

    trust_score: mean trust (0-100) of active agents now; trust_band: its DOMAIN.md band;
    risk_avoided_usd: blocked violations in [start, end) priced by severity;
    sync_freshness_pct / drift_rate_pct: now; compliance_sla_pct: violations in [start, end)
    judged at ``now``; violations: count in [start, end).
    """

    trust_score: float | None
    trust_band: str | None
    risk_avoided_usd: float
    sync_freshness_pct: float
    drift_rate_pct: float
    compliance_sla_pct: float
    active_agents: int
    total_agents: int
    quarantined_agents: int
    violations: int
    computed_at: datetime


def _status_counts(conn: Connection) -> dict[str, int]:
    # Trigger-kept totals (migration 0015): a few rows, not a scan of every agent.
    return {str(t.value): t.agents for t in totals.read_totals(conn, dimension="status")}


def _trust_now(conn: Connection) -> float | None:
    """The mean trust score of the active agents now (from the trigger-kept totals)."""
    for total in totals.read_totals(conn, dimension="status"):
        if total.value == "active" and total.trust_n:
            return total.trust_sum / total.trust_n
    return None


def _freshness_pct(conn: Connection, now: datetime, slo_s: int) -> float:
    by_source = _source_lags(conn, now, slo_s)
    total = sum(s.sources for s in by_source)
    stale = sum(s.stale for s in by_source)
    return 100.0 if total == 0 else 100.0 * (total - stale) / total


@dataclass(frozen=True)
class _SourceLag:
    source: str
    sources: int
    stale: int
    lag_avg_s: float | None
    lag_max_s: float | None


def _source_lags(conn: Connection, now: datetime, slo_s: int) -> list[_SourceLag]:
    """Per integration source: data sources, stale ones (never succeeded, or not since the
    SLO), mean and max lag at ``now``. The counts and the sum of last successes are the
    trigger-kept totals (migration 0015); the stale ones and the oldest success are ranges of
    the (source, last_success_at) index: no scan of every data source."""
    out: list[_SourceLag] = []
    epoch_now = now.timestamp()
    for t in totals.read_source_totals(conn):
        late, oldest = conn.execute(
            text("""SELECT count(*), min(last_success_at) FROM data_sources
                    WHERE source = :source AND last_success_at
                          < CAST(:now AS timestamptz) - make_interval(secs => :slo)"""),
            {"now": now, "slo": slo_s, "source": t.source},
        ).one()
        if oldest is None:
            oldest = conn.execute(
                text("SELECT min(last_success_at) FROM data_sources WHERE source = :source"),
                {"source": t.source},
            ).scalar_one()
        out.append(
            _SourceLag(
                t.source,
                t.sources,
                int(late) + t.sources - t.succeeded,
                None if not t.succeeded else epoch_now - t.success_epoch_sum / t.succeeded,
                None if oldest is None else epoch_now - oldest.timestamp(),
            )
        )
    return out


def _drift_pct(conn: Connection, now: datetime, active: int) -> float:
    # The detections open at ``now`` (unresolved, or resolved after it: both indexed, a few
    # thousand rows), then their agents by key: not a semi-join over every active agent.
    drifting = conn.execute(
        text("""SELECT count(*) FROM agents a WHERE a.status = 'active' AND a.id IN (
                    SELECT d.agent_id FROM drift_detections d
                    WHERE d.resolved_at IS NULL AND d.detected_at <= :now
                    UNION ALL
                    SELECT d.agent_id FROM drift_detections d
                    WHERE d.resolved_at > :now AND d.detected_at <= :now)"""),
        {"now": now},
    ).scalar_one()
    return kpi.drift_rate_percent(min(int(drifting), active), active)


def _risk_avoided(conn: Connection, start: datetime | None, end: datetime) -> float:
    value = conn.execute(
        text(f"""SELECT coalesce(sum({_COST_CASE}), 0) FROM policy_violations
                 WHERE action = 'blocked' AND occurred_at < :end
                   AND (CAST(:start AS timestamptz) IS NULL OR occurred_at >= :start)"""),  # noqa: S608
        {"start": start, "end": end},
    ).scalar_one()
    return float(value)


def _compliance(
    conn: Connection, start: datetime, end: datetime, now: datetime
) -> tuple[float, int]:
    sla, total, _ = _compliance_and_risk(conn, start, end, now)
    return sla, total


def _compliance_and_risk(
    conn: Connection, start: datetime, end: datetime, now: datetime
) -> tuple[float, int, float]:
    """Compliance SLA %, violations and Risk Avoided $ over [start, end): one index scan."""
    met, missed, total, risk = conn.execute(
        text(f"""SELECT
              count(*) FILTER (WHERE resolved_at IS NOT NULL
                               AND resolved_at <= occurred_at + {_DEADLINE_CASE}),
              count(*) FILTER (WHERE (resolved_at IS NOT NULL
                                      AND resolved_at > occurred_at + {_DEADLINE_CASE})
                                  OR (resolved_at IS NULL
                                      AND CAST(:now AS timestamptz) > occurred_at + {_DEADLINE_CASE})),
              count(*),
              coalesce(sum({_COST_CASE}) FILTER (WHERE action = 'blocked'), 0)
            FROM policy_violations WHERE occurred_at >= :start AND occurred_at < :end"""),  # noqa: S608
        {"start": start, "end": end, "now": now},
    ).one()
    counted = int(met) + int(missed)
    return (100.0 if counted == 0 else 100.0 * int(met) / counted), int(total), float(risk)


def summarize_kpis(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    slo_s: int = kpi.FRESHNESS_SLO_SECONDS,
) -> KpiSummary:
    """The KPI tiles for a period: live values now, period values over [start, end)."""
    check_range(start, end)
    counts = _status_counts(conn)
    active = counts.get("active", 0)
    trust = _trust_now(conn)
    sla, violations, risk_avoided = _compliance_and_risk(conn, start, end, now)
    return KpiSummary(
        trust_score=trust,
        trust_band=kpi.trust_band(trust),
        risk_avoided_usd=risk_avoided,
        sync_freshness_pct=_freshness_pct(conn, now, slo_s),
        drift_rate_pct=_drift_pct(conn, now, active),
        compliance_sla_pct=sla,
        active_agents=active,
        total_agents=sum(counts.values()),
        quarantined_agents=counts.get("quarantined", 0),
        violations=violations,
        computed_at=now,
    )


@register
@dataclass(frozen=True)
class KpiSnapshotValues:
    """One kpi_snapshots row (percentages 0-100, trust components 0-1)."""

    computed_at: datetime
    trust_score: float | None
    reliability: float | None
    policy_adherence: float | None
    sync_freshness: float | None
    risk_exposure: float | None
    risk_avoided_usd_total: float
    sync_freshness_pct: float | None
    drift_rate_pct: float | None
    compliance_sla_pct: float | None
    active_agents: int
    total_agents: int
    quarantined_agents: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["computed_at"] = self.computed_at.isoformat()
        return data


def compute_kpi_snapshot(
    conn: Connection,
    *,
    now: datetime,
    window: timedelta = kpi.TRUST_WINDOW,
    slo_s: int = kpi.FRESHNESS_SLO_SECONDS,
) -> KpiSnapshotValues:
    """The system KPIs at ``now`` (what the worker stores every interval).

    trust_score, freshness, drift and agent counts are the live values (as summarize_kpis);
    the four trust components are the means over active agents of each agent's latest scoring
    within TRUST_LOOKBACK (agents are re-scored at least weekly); compliance_sla_pct judges
    the violations of the trailing ``window`` at ``now``; risk_avoided_usd_total is all-time.
    """
    if now.tzinfo is None:
        raise InvalidQuery("now must carry a time zone")
    if not timedelta(0) < window <= timedelta(days=400):
        raise InvalidQuery("the snapshot window must be between 0 and 400 days")
    counts = _status_counts(conn)
    active = counts.get("active", 0)
    comps = conn.execute(
        text("""SELECT avg(l.reliability), avg(l.policy_adherence), avg(l.sync_freshness),
                       avg(l.risk_exposure)
                FROM (SELECT DISTINCT ON (h.agent_id) h.agent_id, h.reliability,
                             h.policy_adherence, h.sync_freshness, h.risk_exposure
                      FROM agent_trust_history h
                      WHERE h.computed_at > :since AND h.computed_at <= :now
                      ORDER BY h.agent_id, h.computed_at DESC) l
                JOIN agents a ON a.id = l.agent_id AND a.status = 'active'"""),
        {"now": now, "since": now - TRUST_LOOKBACK},
    ).one()
    sla, _ = _compliance(conn, now - window, now, now)
    return KpiSnapshotValues(
        computed_at=now,
        trust_score=_trust_now(conn),
        reliability=None if comps[0] is None else float(comps[0]),
        policy_adherence=None if comps[1] is None else float(comps[1]),
        sync_freshness=None if comps[2] is None else float(comps[2]),
        risk_exposure=None if comps[3] is None else float(comps[3]),
        risk_avoided_usd_total=_risk_avoided(conn, None, now),
        sync_freshness_pct=_freshness_pct(conn, now, slo_s),
        drift_rate_pct=_drift_pct(conn, now, active),
        compliance_sla_pct=sla,
        active_agents=active,
        total_agents=sum(counts.values()),
        quarantined_agents=counts.get("quarantined", 0),
    )


def record_kpi_snapshot(
    conn: Connection, *, snapshot: KpiSnapshotValues, origin: str = "worker"
) -> None:
    """Store one snapshot; a second one with the same time and origin replaces it."""
    if origin not in ("worker", "core", "seed"):
        raise InvalidQuery(f"unknown snapshot origin {origin[:20]!r}")
    data = asdict(snapshot)
    data["origin"] = origin
    conn.execute(
        text("""INSERT INTO kpi_snapshots (computed_at, origin, trust_score, reliability,
                    policy_adherence, sync_freshness, risk_exposure, risk_avoided_usd_total,
                    sync_freshness_pct, drift_rate_pct, compliance_sla_pct, active_agents,
                    total_agents, quarantined_agents)
                VALUES (:computed_at, :origin, :trust_score, :reliability, :policy_adherence,
                    :sync_freshness, :risk_exposure, :risk_avoided_usd_total, :sync_freshness_pct,
                    :drift_rate_pct, :compliance_sla_pct, :active_agents, :total_agents,
                    :quarantined_agents)
                ON CONFLICT (computed_at, origin) DO UPDATE SET
                    trust_score = EXCLUDED.trust_score,
                    reliability = EXCLUDED.reliability,
                    policy_adherence = EXCLUDED.policy_adherence,
                    sync_freshness = EXCLUDED.sync_freshness,
                    risk_exposure = EXCLUDED.risk_exposure,
                    risk_avoided_usd_total = EXCLUDED.risk_avoided_usd_total,
                    sync_freshness_pct = EXCLUDED.sync_freshness_pct,
                    drift_rate_pct = EXCLUDED.drift_rate_pct,
                    compliance_sla_pct = EXCLUDED.compliance_sla_pct,
                    active_agents = EXCLUDED.active_agents,
                    total_agents = EXCLUDED.total_agents,
                    quarantined_agents = EXCLUDED.quarantined_agents"""),
        data,
    )


KPI_SERIES_COLUMNS = [
    "ts",
    "trust_score",
    "reliability",
    "policy_adherence",
    "sync_freshness",
    "risk_exposure",
    "sync_freshness_pct",
    "drift_rate_pct",
    "compliance_sla_pct",
]


def list_kpi_series(
    conn: Connection, *, start: datetime, end: datetime, bucket: timedelta
) -> pd.DataFrame:
    """KPI trends per bucket (mean of the snapshots inside it) from kpi_snapshots."""
    check_range(start, end, bucket)
    avgs = ", ".join(f"avg({c}) AS {c}" for c in KPI_SERIES_COLUMNS[1:])
    df = frame(
        conn,
        f"""SELECT date_bin(CAST(:bucket AS interval), computed_at, CAST(:origin AS timestamptz))
                   AS ts, {avgs}
            FROM kpi_snapshots WHERE computed_at >= :start AND computed_at < :end
            GROUP BY 1 ORDER BY 1""",  # noqa: S608 - column names are constants
        {"start": start, "end": end, "bucket": bucket, "origin": BIN_ORIGIN},
    )
    for col in KPI_SERIES_COLUMNS[1:]:
        df[col] = df[col].astype(float)
    return df[KPI_SERIES_COLUMNS]


def summarize_kpis_at(conn: Connection, *, start: datetime, end: datetime) -> dict[str, Any]:
    """KPI values for a past period, for "change versus the previous period".

    Trust, freshness, drift and compliance are the snapshot at the period's end (they are
    point-in-time values); Risk Avoided $ is the sum over the period.
    """
    check_range(start, end)
    snap = get_kpi_snapshot_at(conn, at=end) or {}
    return {
        "trust_score": snap.get("trust_score"),
        "sync_freshness_pct": snap.get("sync_freshness_pct"),
        "drift_rate_pct": snap.get("drift_rate_pct"),
        "compliance_sla_pct": snap.get("compliance_sla_pct"),
        "risk_avoided_usd": _risk_avoided(conn, start, end),
    }


def get_kpi_snapshot_at(conn: Connection, *, at: datetime) -> dict[str, Any] | None:
    """The newest snapshot at or before ``at`` (for "change versus the previous period")."""
    row = (
        conn.execute(
            text("""SELECT * FROM kpi_snapshots WHERE computed_at <= :at
                AND computed_at > CAST(:at AS timestamptz) - interval '1 day'
                ORDER BY computed_at DESC LIMIT 1"""),
            {"at": at},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def list_risk_avoided_series(
    conn: Connection, *, start: datetime, end: datetime, bucket: timedelta
) -> pd.DataFrame:
    """RA$ per bucket from blocked violations, and its running total within the range."""
    check_range(start, end, bucket)
    df = frame(
        conn,
        f"""SELECT date_bin(CAST(:bucket AS interval), occurred_at, CAST(:origin AS timestamptz))
                   AS ts, sum({_COST_CASE}) AS risk_avoided_usd
            FROM policy_violations
            WHERE action = 'blocked' AND occurred_at >= :start AND occurred_at < :end
            GROUP BY 1 ORDER BY 1""",  # noqa: S608 - the CASE is built from constants
        {"start": start, "end": end, "bucket": bucket, "origin": BIN_ORIGIN},
    )
    df["risk_avoided_usd"] = df["risk_avoided_usd"].astype(float)
    df["cumulative_usd"] = df["risk_avoided_usd"].cumsum()
    return df[["ts", "risk_avoided_usd", "cumulative_usd"]]


def list_sync_lag_by_source(
    conn: Connection, *, now: datetime, slo_s: int = kpi.FRESHNESS_SLO_SECONDS
) -> pd.DataFrame:
    """Per integration source: data sources, stale ones, freshness %, mean and max lag (s)."""
    lags = _source_lags(conn, now, slo_s)
    df = pd.DataFrame(
        {
            "source": pd.Series([x.source for x in lags], dtype="object"),
            "data_sources": pd.Series([x.sources for x in lags], dtype="int64"),
            "stale": pd.Series([x.stale for x in lags], dtype="int64"),
            "lag_avg_s": pd.Series([x.lag_avg_s for x in lags], dtype="float64"),
            "lag_max_s": pd.Series([x.lag_max_s for x in lags], dtype="float64"),
        }
    )
    df["data_sources"] = df["data_sources"].astype(int)
    df["stale"] = df["stale"].astype(int)
    df["freshness_pct"] = 100.0 * (df["data_sources"] - df["stale"]) / df["data_sources"]
    df["lag_avg_s"] = df["lag_avg_s"].astype(float).clip(lower=0)
    df["lag_max_s"] = df["lag_max_s"].astype(float).clip(lower=0)
    df = df.sort_values(["freshness_pct", "lag_max_s"], ascending=[True, False])
    return df[["source", "data_sources", "stale", "freshness_pct", "lag_avg_s", "lag_max_s"]]


def list_sync_lag_series(
    conn: Connection, *, start: datetime, end: datetime, bucket: timedelta
) -> pd.DataFrame:
    """Per bucket and source: mean lag, max lag (s), mean number of stale data sources."""
    check_range(start, end, bucket)
    table, ts = series_source("sync_lag_samples", "sync_lag_samples_hourly", "minute", bucket)
    stale = "sources_stale_avg" if table.endswith("hourly") else "sources_stale"
    df = frame(
        conn,
        f"""SELECT date_bin(CAST(:bucket AS interval), {ts}, CAST(:origin AS timestamptz)) AS ts,
                   source, avg(lag_avg_s) AS lag_avg_s, max(lag_max_s) AS lag_max_s,
                   avg({stale}) AS sources_stale
            FROM {table} WHERE {ts} >= :start AND {ts} < :end
            GROUP BY 1, 2 ORDER BY 1, 2""",  # noqa: S608 - names come from constants
        {"start": start, "end": end, "bucket": bucket, "origin": BIN_ORIGIN},
    )
    for col in ("lag_avg_s", "lag_max_s", "sources_stale"):
        df[col] = df[col].astype(float)
    return df


_SEVERITY_RANK = (
    "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"
)


def list_sync_gaps(
    conn: Connection, *, open_only: bool = True, severity: str | None = None, limit: int = 500
) -> pd.DataFrame:
    """Sync gaps, most severe and newest first."""
    if severity is not None and severity not in values(Severity):
        raise InvalidQuery(
            f"unknown severity {severity[:20]!r}; use one of {', '.join(values(Severity))}"
        )
    if not 1 <= limit <= 1000:
        raise InvalidQuery("limit must be between 1 and 1,000")
    return frame(
        conn,
        f"""SELECT detected_at, source, target, gap_type, severity, lag_ms, resolved_at
            FROM sync_gaps
            WHERE (NOT :open_only OR resolved_at IS NULL)
              AND (CAST(:severity AS text) IS NULL OR severity = :severity)
            ORDER BY {_SEVERITY_RANK} DESC, detected_at DESC LIMIT :limit""",  # noqa: S608
        {"open_only": open_only, "severity": severity, "limit": limit},
    )


@register
@dataclass(frozen=True)
class TrustDrivers:
    """Why the Trust Score moved between two moments.

    components: component, before, after, delta (each 0-1; risk exposure rising is bad);
    agents: agent_id, name, score_before, score_after, delta (most negative first).
    """

    components: pd.DataFrame
    agents: pd.DataFrame


def summarize_trust_drivers(
    conn: Connection, *, start: datetime, end: datetime, limit: int = 20, active_only: bool = True
) -> TrustDrivers:
    """Why the Trust Score moved between ``start`` and ``end``.

    components: the mean of each trust component over the kpi_snapshots in the first and the
    last hour of the range (a quarter of it for ranges under four hours), and their change.
    agents: the active agents (those the system score averages) whose latest score in
    (start, end] fell furthest below their latest score at or before ``start``; with
    ``active_only=False`` every agent, whatever its status (see :func:`keep_active_falls`).
    """
    check_range(start, end)
    if not 1 <= limit <= 200:
        raise InvalidQuery("limit must be between 1 and 200")
    names = ["reliability", "policy_adherence", "sync_freshness", "risk_exposure"]
    cols = ", ".join(f"avg({n}) AS {n}" for n in names)
    edge = min(timedelta(hours=1), (end - start) / 4)
    before = conn.execute(
        text(f"SELECT {cols} FROM kpi_snapshots WHERE computed_at >= :a AND computed_at < :b"),  # noqa: S608
        {"a": start, "b": start + edge},
    ).one()
    after = conn.execute(
        text(f"SELECT {cols} FROM kpi_snapshots WHERE computed_at > :a AND computed_at <= :b"),  # noqa: S608
        {"a": end - edge, "b": end},
    ).one()
    comp = pd.DataFrame(
        {
            "component": names,
            "before": [None if v is None else float(v) for v in before],
            "after": [None if v is None else float(v) for v in after],
        }
    )
    comp["delta"] = comp["after"].astype(float) - comp["before"].astype(float)
    # Hour-aligned ranges the worker has rolled up read the per-agent trust rollups (the
    # steepest falls of a few buckets); any other range asks the history itself, exact over
    # every active agent scored in (start, end] (seconds at a million agents).
    # The ranges the dashboards ask on the hour are answered by the worker's stored pools.
    agents = trust_rollups.read_fall_pool(
        conn, start=start, end=end, limit=limit, active_only=active_only
    )
    if agents is None:
        agents = _compute_falls(conn, start=start, end=end, limit=limit, active_only=active_only)
    for col in ("score_before", "score_after", "delta"):
        agents[col] = agents[col].astype(float)
    return TrustDrivers(components=comp, agents=agents)


def _compute_falls(
    conn: Connection, *, start: datetime, end: datetime, limit: int, active_only: bool
) -> pd.DataFrame:
    agents = trust_rollups.list_trust_falls(
        conn, start=start, end=end, limit=limit, active_only=active_only
    )
    if agents is None:
        agents = list_trust_falls_from_history(
            conn, start=start, end=end, limit=limit, active_only=active_only
        )
    return agents


def refresh_fall_pools(
    conn: Connection,
    *,
    end: datetime,
    spans: Collection[timedelta],
    now: datetime,
    pool_size: int = trust_rollups.POOL_SIZE,
) -> dict[str, str]:
    """Compute the missing stored trust-fall pools of (end - span, end] for each span (the
    worker, for the dashboards' presets ending at the current hour); what each one did.

    A pool is computed once the rollups hold its whole range; the rollups' refresh deletes a
    pool when a bucket in its range changes (late scorings), so the next call computes it
    again. Pools whose range ended over ``POOL_RETENTION`` ago are deleted. Call it in a
    transaction (the statement timeout it lifts is its own, SET LOCAL).
    """
    # Seconds per range at a million agents, more on a busy server: past the interactive
    # statement timeout, which is there for viewers, not for this hourly job.
    conn.execute(text("SET LOCAL statement_timeout = '600s'"))
    watermark = trust_rollups.get_watermark(conn)
    done: dict[str, str] = {}
    for span in spans:
        start, key = end - span, f"{span.total_seconds() / 3600:g}h"
        if watermark is None or end > watermark:
            done[key] = "not rolled up yet"
        elif trust_rollups.get_fall_pool_computed_at(conn, start=start, end=end) is not None:
            done[key] = "kept"
        else:
            falls = _compute_falls(conn, start=start, end=end, limit=pool_size, active_only=False)
            trust_rollups.store_fall_pool(
                conn, start=start, end=end, falls=falls, pool_size=pool_size, computed_at=now
            )
            done[key] = f"{len(falls)} falls"
    trust_rollups.delete_fall_pools_before(conn, cutoff=now - trust_rollups.POOL_RETENTION)
    return done


def list_trust_falls_from_history(
    conn: Connection, *, start: datetime, end: datetime, limit: int, active_only: bool = True
) -> pd.DataFrame:
    """The same answer as trust_rollups.list_trust_falls, from agent_trust_history."""
    status = " AND a.status = 'active'" if active_only else ""
    return frame(
        conn,
        f"""WITH f AS (
               SELECT DISTINCT ON (h.agent_id) h.agent_id, h.score
               FROM agent_trust_history h
               WHERE h.computed_at > :start AND h.computed_at <= :end
               ORDER BY h.agent_id, h.computed_at DESC)
           SELECT f.agent_id, a.name, b.score AS score_before, f.score AS score_after,
                  f.score - b.score AS delta
           FROM f
           JOIN agents a ON a.id = f.agent_id{status}
           CROSS JOIN LATERAL (
               SELECT h.score FROM agent_trust_history h
               WHERE h.agent_id = f.agent_id AND h.computed_at <= :start
               ORDER BY h.computed_at DESC LIMIT 1) b
           WHERE f.score < b.score
           ORDER BY delta ASC, f.agent_id LIMIT :limit""",  # noqa: S608 - constant filter
        {"start": start, "end": end, "limit": limit},
        columns=["agent_id", "name", "score_before", "score_after", "delta"],
    )


def list_active_agent_ids(conn: Connection, *, ids: tuple[int, ...]) -> tuple[int, ...]:
    """Which of ``ids`` are active agents now, ascending (an indexed lookup of a few hundred)."""
    if len(ids) > 1000:
        raise InvalidQuery("at most 1,000 agent ids at a time")
    rows = conn.execute(
        text("SELECT id FROM agents WHERE id = ANY(:ids) AND status = 'active' ORDER BY id"),
        {"ids": list(ids)},
    )
    return tuple(int(r.id) for r in rows)


def keep_active_falls(
    pool: TrustDrivers, *, active: Collection[int], pool_size: int, limit: int
) -> TrustDrivers | None:
    """The active agents' falls out of ``pool`` (the steepest ``pool_size`` falls of agents
    of any status, most negative first), or None when the pool cannot tell them exactly.

    The pool changes only with the trust history, so it is computed once an hour for all
    viewers; which of its agents are active changes with every quarantine, and is a cheap
    lookup. Exact as long as ``limit`` active agents remain in the pool, or the pool holds
    every falling agent (fewer rows than ``pool_size``).
    """
    kept = pool.agents[pool.agents["agent_id"].isin(set(active))].head(limit)
    if len(kept) < limit and len(pool.agents) >= pool_size:
        return None
    return TrustDrivers(components=pool.components, agents=kept.reset_index(drop=True))


def nan_to_none(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value

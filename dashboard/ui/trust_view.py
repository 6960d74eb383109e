"""Trust KPIs page body: five tiles with change and target, trends, sync gaps, trust drivers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.actions.agents import AGENT_TOPICS
from dashboard.data import kpis, panels
from dashboard.domain import thresholds as th
from dashboard.ui import charts, components, incidents_view, loaders, reports_view
from dashboard.ui.params import RangeChoice

PAGE = "trust_kpis"


def render(choice: RangeChoice) -> None:
    tr, bucket = choice.time_range, choice.bucket
    summary = loaders.load(
        "kpi_summary",
        kpis.summarize_kpis,
        start=tr.start,
        end=tr.end,
        now=tr.end,
        topics=AGENT_TOPICS,
    )
    prev_range = tr.previous()
    previous = loaders.load(
        "kpi_previous",
        kpis.summarize_kpis_at,
        start=prev_range.start,
        end=prev_range.end,
        ttl_s=120,
    )
    series = loaders.load(
        "kpi_series", kpis.list_kpi_series, start=tr.start, end=tr.end, bucket=bucket
    )
    ra = loaders.load(
        "ra_series", kpis.list_risk_avoided_series, start=tr.start, end=tr.end, bucket=bucket
    )
    components.banner_for([summary, series, ra])

    if components.frame(summary) and summary.value is not None:
        s, prev = summary.value, previous.value or {}
        cols = components.tile_columns(5)
        components.kpi_tile(
            cols[0],
            "Trust Score",
            s.trust_score,
            "{:.1f}",
            previous=prev.get("trust_score"),
            band=s.trust_band,
            target=f"target ≥ {th.TARGET_TRUST_SCORE:g}",
        )
        components.kpi_tile(
            cols[1],
            "Risk Avoided $",
            s.risk_avoided_usd,
            "${:,.0f}",
            previous=prev.get("risk_avoided_usd"),
            target="should keep rising",
        )
        components.kpi_tile(
            cols[2],
            "Sync Freshness",
            s.sync_freshness_pct,
            "{:.1f} %",
            previous=prev.get("sync_freshness_pct"),
            target=f"target ≥ {th.TARGET_SYNC_FRESHNESS_PCT:g} %",
        )
        components.kpi_tile(
            cols[3],
            "Drift Rate",
            s.drift_rate_pct,
            "{:.1f} %",
            previous=prev.get("drift_rate_pct"),
            lower_is_better=True,
            target=f"healthy < {th.DRIFT_RATE_HEALTHY_PCT:g} %, P2 > {th.DRIFT_RATE_ALERT_PCT:g} %",
        )
        components.kpi_tile(
            cols[4],
            "Compliance SLA",
            s.compliance_sla_pct,
            "{:.1f} %",
            previous=prev.get("compliance_sla_pct"),
            target=f"target ≥ {th.TARGET_COMPLIANCE_SLA_PCT:g} %",
        )
        st.caption(
            "Changes are versus the previous period of the same length. "
            f"{s.active_agents:,} active of {s.total_agents:,} agents · "
            f"{s.quarantined_agents:,} quarantined · {s.violations:,} violations in the period"
        )
    # Reports (issue 13): file the executive summary of the range on screen.
    reports_view.generate_for_range(f"{PAGE}.report", tr.start, tr.end)

    # One frame, one figure: the KPI series and the cumulative Risk Avoided are merged on
    # their bucket times (the same buckets), so all six panels share the time axis.
    trends = loaders.Panel(
        _merged(series.value, ra.value) if series.value is not None else None,
        series.state,
        series.message,
        series.computed_at,
        series.cache_degraded or ra.cache_degraded,
        series.error,
    )
    components.chart(trends, _kpi_trends, f"{PAGE}.trends")

    st.subheader("Why is the Trust Score dropping?")
    drivers = _drivers(_floor(tr.start, DRIVER_STEP), _floor(tr.end, DRIVER_STEP))
    d_left, d_right = st.columns([2, 3])
    comp_panel: loaders.Panel[Any]
    agent_panel: loaders.Panel[Any]
    if drivers.value is not None:
        comps = drivers.value.components
        # One row per component always; without snapshots at either end there is no change.
        no_snapshots = comps[["before", "after"]].isna().all().all()
        comp_panel = loaders.Panel(
            comps, "empty" if no_snapshots else drivers.state, None, drivers.computed_at
        )
        agent_panel = loaders.Panel(
            drivers.value.agents,
            "empty" if drivers.value.agents.empty else "ok",
            None,
            drivers.computed_at,
        )
    else:
        comp_panel = agent_panel = loaders.Panel(
            None, drivers.state, drivers.message, error=drivers.error
        )
    with d_left:
        components.table(
            comp_panel,
            f"{PAGE}.drivers",
            title="Component change over the period (0–1)",
            file_name="trust_components.csv",
            empty="No trust snapshots in this period.",
        )
    with d_right:
        components.table(
            agent_panel,
            f"{PAGE}.dropping",
            title="Agents whose trust fell most",
            file_name="trust_drops.csv",
            empty="No agent's trust fell in this period.",
        )

    st.subheader("Sync")
    lag = loaders.load("sync_by_source", kpis.list_sync_lag_by_source, now=tr.end)
    gaps = loaders.load("sync_gaps", kpis.list_sync_gaps, open_only=True, limit=500)
    lag_series = loaders.load(
        "sync_lag_series", kpis.list_sync_lag_series, start=tr.start, end=tr.end, bucket=bucket
    )
    components.chart(
        lag_series,
        charts.sync_lag_builder(th.SYNC_LAG_HEALTHY_S, th.SYNC_LAG_ALERT_S),
        f"{PAGE}.lag",
    )
    s_left, s_right = st.columns([2, 3])
    with s_left:
        components.table(
            lag,
            f"{PAGE}.worst_sources",
            title="Sources, worst lag first",
            file_name="sync_sources.csv",
            empty="No sync source has reported.",
        )
    with s_right:
        components.table(
            gaps,
            f"{PAGE}.gaps",
            title="Open sync gaps",
            file_name="sync_gaps.csv",
            empty="No open sync gaps.",
        )
    _incident_times(tr.start, tr.end)


def _incident_times(start: datetime, end: datetime) -> None:
    """Issue 10: MTTA/MTTR by severity over the page's range, read-only, for managers
    (details and any period on the Incidents page)."""
    incidents_view.render_kpi_section(start, end)


DRIVER_STEP = panels.DRIVER_STEP
_floor = panels.floor_to
DRIVER_LIMIT = 20


def _drivers(start: datetime, end: datetime) -> loaders.Panel[kpis.TrustDrivers]:
    """The trust drivers of (start, end], asked on the hour.

    The heavy part, the steepest falls of agents of any status, changes only with the trust
    history: one computation per hour for all viewers, renewed ahead by the worker. Which of
    them are active changes with each quarantine (the agents topic): a lookup of a few hundred
    ids, so an operator's action never makes the next viewer wait for the whole history.
    """
    ttl_s = int(DRIVER_STEP.total_seconds())
    pool = loaders.load(
        "trust_drivers_pool",
        kpis.summarize_trust_drivers,
        ttl_s=ttl_s,
        start=start,
        end=end,
        limit=panels.DRIVER_POOL,
        active_only=False,
    )
    if pool.value is None:
        return pool
    active = loaders.load(
        "trust_drivers_active",
        kpis.list_active_agent_ids,
        ttl_s=ttl_s,
        topics=AGENT_TOPICS,
        ids=tuple(int(i) for i in pool.value.agents["agent_id"]),
    )
    if active.state == "error":
        return loaders.Panel(None, "error", active.message, error=active.error)
    kept = kpis.keep_active_falls(
        pool.value, active=active.value or (), pool_size=panels.DRIVER_POOL, limit=DRIVER_LIMIT
    )
    if kept is None:
        # So many of the pool's agents are not active that it cannot tell: ask exactly.
        return loaders.load(
            "trust_drivers",
            kpis.summarize_trust_drivers,
            ttl_s=ttl_s,
            topics=AGENT_TOPICS,
            start=start,
            end=end,
            limit=DRIVER_LIMIT,
        )
    return loaders.Panel(kept, pool.state, None, pool.computed_at, pool.cache_degraded)


COMPONENTS = (
    ("reliability", "reliability"),
    ("policy_adherence", "policy adherence"),
    ("sync_freshness", "sync freshness"),
    ("risk_exposure", "risk exposure"),
)


# The KPI trends over the range, each against its target, Risk Avoided building up over the
# period and the trust components: one figure of six panels.
TREND_FACETS = (
    charts.facet(
        "Trust Score (0–100)",
        "trust_score",
        charts.Limit(th.TARGET_TRUST_SCORE, f"target {th.TARGET_TRUST_SCORE:g}", charts.TARGET),
    ),
    charts.facet("Risk Avoided, cumulative (USD)", "cumulative_usd", area=True),
    charts.facet(
        "Sync Freshness (%)",
        "sync_freshness_pct",
        charts.Limit(
            th.TARGET_SYNC_FRESHNESS_PCT, f"target {th.TARGET_SYNC_FRESHNESS_PCT:g}", charts.TARGET
        ),
    ),
    charts.facet(
        "Drift Rate (%)",
        "drift_rate_pct",
        charts.Limit(
            th.DRIFT_RATE_HEALTHY_PCT, f"healthy below {th.DRIFT_RATE_HEALTHY_PCT:g}", charts.TARGET
        ),
    ),
    charts.facet(
        "Compliance SLA (%)",
        "compliance_sla_pct",
        charts.Limit(
            th.TARGET_COMPLIANCE_SLA_PCT, f"target {th.TARGET_COMPLIANCE_SLA_PCT:g}", charts.TARGET
        ),
    ),
    charts.Facet("Trust components (0–1)", COMPONENTS, y_range=(0, 1.05)),
)


def _merged(series: pd.DataFrame, ra: pd.DataFrame | None) -> pd.DataFrame:
    """The KPI series and the running Risk Avoided total on the union of their buckets (a
    bucket without violations keeps the total so far; each line draws its own points)."""
    if ra is None or ra.empty or "cumulative_usd" not in ra:
        return series.assign(cumulative_usd=float("nan"))
    both = series.merge(ra[["ts", "cumulative_usd"]], on="ts", how="outer").sort_values("ts")
    both["cumulative_usd"] = both["cumulative_usd"].ffill().fillna(0.0)
    return both.reset_index(drop=True)


def _kpi_trends(df: pd.DataFrame) -> go.Figure:
    return charts.small_multiples(df, TREND_FACETS)

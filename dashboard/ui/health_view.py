"""Service Health page body: status header, traffic, errors, latency, uptime, resources."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.data import health, metrics
from dashboard.domain import thresholds as th
from dashboard.ui import charts, components, loaders, resources
from dashboard.ui.live_state import component_states
from dashboard.ui.markup import shown
from dashboard.ui.params import RangeChoice

PAGE = "service_health"


def render(choice: RangeChoice) -> None:
    tr, bucket = choice.time_range, choice.bucket
    status = component_states()
    components.status_header(status)
    st.caption(f"Component status from {status.source}.")

    endpoints = loaders.load(
        "endpoints", metrics.list_endpoints, since=tr.end - timedelta(days=30), ttl_s=300
    )
    options = ["All endpoints"] + [f"{m} {r}" for m, r in (endpoints.value or [])]
    # Routes come from data: their bidi/control characters are shown as marks.
    picked = st.selectbox("Endpoint", options, key=f"{PAGE}.endpoint", format_func=shown)
    method, route = (None, None) if picked == options[0] else picked.split(" ", 1)
    series = loaders.load(
        "request_series",
        metrics.list_request_series,
        start=tr.start,
        end=tr.end,
        bucket=bucket,
        route=route,
        method=method,
    )
    stats = loaders.load("endpoint_stats", metrics.list_endpoint_stats, start=tr.start, end=tr.end)
    uptime = loaders.load("uptime", health.summarize_uptime, now=tr.end, ttl_s=60)
    res = loaders.load(
        "resources", metrics.list_resource_series, start=tr.start, end=tr.end, bucket=bucket
    )
    components.banner_for([series, stats, uptime, res])

    left, right = st.columns(2)
    with left:
        components.chart(series, charts.request_rate, f"{PAGE}.rate")
        components.chart(series, charts.latency_builder(th.P99_LATENCY_MS), f"{PAGE}.latency")
    with right:
        components.chart(
            series,
            charts.error_rate_builder(th.ERROR_RATE_WARN_PCT, th.ERROR_RATE_CRIT_PCT),
            f"{PAGE}.errors",
        )
        components.chart(stats, charts.endpoint_errors, f"{PAGE}.by_endpoint")
    components.table(
        stats,
        f"{PAGE}.endpoint_table",
        title="Endpoints, worst first",
        empty="No requests were recorded in this range.",
        file_name="endpoints.csv",
        column_config=_endpoint_columns(),
    )

    st.subheader("Uptime by component")
    up_left, up_right = st.columns([3, 2])
    with up_left:
        if uptime.value is not None and not uptime.value.empty:
            # Every known component has a row, with 0 checks when none ran: that is empty.
            no_checks = int(uptime.value["checks"].fillna(0).sum()) == 0
            uptime = loaders.Panel(
                _uptime_grid(uptime.value),
                "empty" if no_checks else uptime.state,
                uptime.message,
                uptime.computed_at,
                uptime.cache_degraded,
            )
        components.table(
            uptime,
            f"{PAGE}.uptime",
            file_name="uptime.csv",
            empty="No health checks in the last 30 days: uptime cannot be computed yet.",
            column_config={
                c: st.column_config.NumberColumn(c, format="%.2f %%")
                for c in ("24 h", "7 d", "30 d")
            },
        )
    with up_right:
        strip = loaders.load(
            "heartbeat",
            health.list_health_checks,
            since=tr.end - timedelta(minutes=30),
            until=tr.end,
            limit=500,
            ttl_s=10,
        )
        components.table(
            strip,
            f"{PAGE}.heartbeat",
            title="Recent checks (30 min)",
            file_name="health_checks.csv",
            empty="No health check ran in the last 30 minutes: is the worker running?",
            height=260,
        )

    st.subheader("Resource utilisation")
    components.chart(res, _resources, f"{PAGE}.resources")
    st.caption(f"Clock: {resources.now():%Y-%m-%d %H:%M:%S} UTC")


RESOURCE_FACETS = (
    charts.Facet("cpu_pct", "CPU (%)", th.CPU_PCT, f"{th.CPU_PCT:g} % threshold", y_range=(0, 100)),
    charts.Facet(
        "memory_pct",
        "Memory (%)",
        th.MEMORY_PCT,
        f"{th.MEMORY_PCT:g} % threshold",
        y_range=(0, 100),
    ),
    charts.Facet(
        "disk_pct", "Disk (%)", th.DISK_PCT, f"{th.DISK_PCT:g} % threshold", y_range=(0, 100)
    ),
    charts.Facet(
        "db_conn_pct",
        "DB connections (% of pool)",
        th.DB_CONNECTIONS_PCT_OF_POOL,
        f"{th.DB_CONNECTIONS_PCT_OF_POOL:g} % threshold",
        y_range=(0, 100),
    ),
)


def _resources(df: pd.DataFrame) -> go.Figure:
    """CPU, memory, disk and DB connections per instance: one figure of four panels."""
    return charts.small_multiples(df, RESOURCE_FACETS, group="instance")


def _uptime_grid(df: pd.DataFrame) -> pd.DataFrame:
    grid = df.pivot(index="component", columns="window", values="uptime_pct").reset_index()
    return grid[["component", *[c for c in ("24 h", "7 d", "30 d") if c in grid.columns]]]


def _endpoint_columns() -> dict[str, object]:
    return {
        "error_rate_pct": st.column_config.NumberColumn("error rate", format="%.2f %%"),
        "p50_ms": st.column_config.NumberColumn("p50", format="%.0f ms"),
        "p95_ms": st.column_config.NumberColumn("p95", format="%.0f ms"),
        "p99_ms": st.column_config.NumberColumn("p99", format="%.0f ms"),
    }

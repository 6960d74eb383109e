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

    traffic, by_endpoint = st.columns(2)
    with traffic:
        components.chart(series, _traffic, f"{PAGE}.traffic")
    with by_endpoint:
        components.chart(
            stats,
            lambda df: charts.endpoint_errors(df, height=TRAFFIC_HEIGHT),
            f"{PAGE}.by_endpoint",
        )
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


# Requests, errors and latency stacked over one time axis, beside the worst endpoints.
TRAFFIC_FACETS = (
    charts.facet("Request rate (req/s)", "rps"),
    charts.facet(
        "Error rate (% of requests, 5xx)",
        "error_rate_pct",
        charts.Limit(th.ERROR_RATE_WARN_PCT, f"{th.ERROR_RATE_WARN_PCT:g} % healthy limit"),
        charts.Limit(th.ERROR_RATE_CRIT_PCT, f"{th.ERROR_RATE_CRIT_PCT:g} % P1", charts.CRIT),
    ),
    charts.Facet(
        "Latency p50 / p95 / p99 (ms)",
        (("p50_ms", "latency p50"), ("p95_ms", "latency p95"), ("p99_ms", "latency p99")),
        (charts.Limit(th.P99_LATENCY_MS, f"p99 limit {th.P99_LATENCY_MS:g} ms", charts.CRIT),),
    ),
)
TRAFFIC_ROW_HEIGHT = 190
TRAFFIC_HEIGHT = len(TRAFFIC_FACETS) * TRAFFIC_ROW_HEIGHT + 80


def _traffic(df: pd.DataFrame) -> go.Figure:
    return charts.small_multiples(df, TRAFFIC_FACETS, cols=1, row_height=TRAFFIC_ROW_HEIGHT)


RESOURCE_FACETS = tuple(
    charts.facet(title, column, charts.Limit(limit, f"{limit:g} % threshold"), y_range=(0, 100))
    for title, column, limit in (
        ("CPU (%)", "cpu_pct", th.CPU_PCT),
        ("Memory (%)", "memory_pct", th.MEMORY_PCT),
        ("Disk (%)", "disk_pct", th.DISK_PCT),
        ("DB connections (% of pool)", "db_conn_pct", th.DB_CONNECTIONS_PCT_OF_POOL),
    )
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

"""ORCA Core's own traffic and resources: rates, error rates, latency percentiles, utilisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from dashboard.data.errors import InvalidQuery
from dashboard.data.sql import BIN_ORIGIN, check_range, frame, series_source
from dashboard.domain.histogram import BUCKET_COLUMNS, histogram_quantile

_SUMS = ", ".join(f"sum({c}) AS {c}" for c in BUCKET_COLUMNS)
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
REQUEST_COLUMNS = [
    "ts",
    "requests",
    "errors",
    "rps",
    "error_rate_pct",
    "p50_ms",
    "p95_ms",
    "p99_ms",
]


def _percentiles(df: pd.DataFrame) -> pd.DataFrame:
    """Add p50/p95/p99 (ms) from the summed bucket columns of each row, then drop them."""
    buckets = df[list(BUCKET_COLUMNS)].to_numpy(dtype=float)
    for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        df[name] = [histogram_quantile(q, row.tolist()) for row in buckets] if len(df) else []
        df[name] = df[name].astype(float)
    return df.drop(columns=list(BUCKET_COLUMNS))


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    df["requests"] = df["requests"].astype("int64")
    df["errors"] = df["errors"].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        df["error_rate_pct"] = np.where(
            df["requests"] > 0,
            100.0 * df["errors"] / df["requests"].where(df["requests"] > 0),
            np.nan,
        )
    return df


def list_request_series(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    route: str | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """Requests, errors, req/s, error rate % and p50/p95/p99 latency (ms) per time bucket.

    Columns: ts (bucket start, UTC, aligned with date_bin to a fixed origin), requests, errors
    (int), rps (requests / bucket seconds), error_rate_pct (NaN without requests), p50_ms,
    p95_ms, p99_ms (from the summed latency buckets, as histogram_quantile; NaN without
    requests). Buckets without any row are absent. Buckets of an hour or more read
    request_metrics_hourly (the hours starting in [start, end)), shorter ones the per-minute
    rows; both give the same totals over whole hours. route/method narrow to one endpoint.
    """
    check_range(start, end, bucket)
    if method is not None and method not in _METHODS:
        raise InvalidQuery(f"unknown HTTP method {method[:20]!r}")
    if route is not None and (len(route) > 200 or not route.startswith("/")):
        raise InvalidQuery("a route starts with / and has at most 200 characters")
    table, ts = series_source("request_metrics", "request_metrics_hourly", "minute", bucket)
    where = [f"{ts} >= :start", f"{ts} < :end"]
    params: dict[str, object] = {"start": start, "end": end, "bucket": bucket, "origin": BIN_ORIGIN}
    if route is not None:
        where.append("route = :route")
        params["route"] = route
    if method is not None:
        where.append("method = :method")
        params["method"] = method
    sql = f"""
        SELECT date_bin(CAST(:bucket AS interval), {ts}, CAST(:origin AS timestamptz)) AS ts,
               sum(request_count) AS requests, sum(error_count) AS errors, {_SUMS}
        FROM {table} WHERE {" AND ".join(where)}
        GROUP BY 1 ORDER BY 1"""  # noqa: S608 - table/column names come from constants
    df = _rates(frame(conn, sql, params))
    df["rps"] = df["requests"] / bucket.total_seconds()
    return _percentiles(df)[REQUEST_COLUMNS]


def list_endpoint_stats(conn: Connection, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Per endpoint over the range: requests, errors, error rate % and latency percentiles.

    Columns: method, route, requests, errors, error_rate_pct, p50_ms, p95_ms, p99_ms. Ranked
    worst first (error rate, then p99), so "which endpoints are failing" reads top down.
    Ranges over 24 h read the hourly rollups (hours starting in [start, end)).
    """
    check_range(start, end)
    hourly = end - start > timedelta(hours=24)
    table, ts = ("request_metrics_hourly", "hour") if hourly else ("request_metrics", "minute")
    sql = f"""
        SELECT method, route, sum(request_count) AS requests, sum(error_count) AS errors, {_SUMS}
        FROM {table} WHERE {ts} >= :start AND {ts} < :end
        GROUP BY method, route"""  # noqa: S608 - table/column names come from constants
    df = _percentiles(_rates(frame(conn, sql, {"start": start, "end": end})))
    df = df.sort_values(["error_rate_pct", "p99_ms"], ascending=False, na_position="last")
    cols = ["method", "route", "requests", "errors", "error_rate_pct", "p50_ms", "p95_ms", "p99_ms"]
    return df[cols].reset_index(drop=True)


def list_endpoints(conn: Connection, *, since: datetime | None = None) -> list[tuple[str, str]]:
    """Endpoints (method, route) seen in the rollups over the last 30 days, sorted by route."""
    since = since or datetime.now(UTC) - timedelta(days=30)
    df = frame(
        conn,
        "SELECT DISTINCT method, route FROM request_metrics_hourly WHERE hour >= :since "
        "ORDER BY route, method",
        {"since": since},
    )
    return [(str(m), str(r)) for m, r in zip(df["method"], df["route"], strict=True)]


RESOURCE_COLUMNS = [
    "ts",
    "instance",
    "cpu_pct",
    "memory_pct",
    "disk_pct",
    "db_connections",
    "db_pool_size",
    "db_conn_pct",
    "net_rx_bytes",
    "net_tx_bytes",
]


def list_resource_series(
    conn: Connection, *, start: datetime, end: datetime, bucket: timedelta
) -> pd.DataFrame:
    """Per instance and bucket: mean CPU and memory %, max disk %, peak DB connections vs pool.

    Columns: ts, instance, cpu_pct, memory_pct (means over the bucket's minutes), disk_pct
    (max), db_connections (peak), db_pool_size (max), db_conn_pct (peak / pool x 100),
    net_rx_bytes, net_tx_bytes (sums). Buckets of an hour or more read resource_samples_hourly:
    means weighted by each hour's sample count, maxima of the hourly maxima, sums of the
    sums, so both paths give the same numbers for the same minutes.
    """
    check_range(start, end, bucket)
    params = {"start": start, "end": end, "bucket": bucket, "origin": BIN_ORIGIN}
    if bucket >= timedelta(hours=1):
        sql = """
            SELECT date_bin(CAST(:bucket AS interval), hour, CAST(:origin AS timestamptz)) AS ts,
                   instance,
                   sum(cpu_avg * samples) / NULLIF(sum(samples), 0) AS cpu_pct,
                   sum(memory_avg * samples) / NULLIF(sum(samples), 0) AS memory_pct,
                   max(disk_max) AS disk_pct, max(db_connections_max) AS db_connections,
                   max(db_pool_size) AS db_pool_size, sum(net_rx_bytes) AS net_rx_bytes,
                   sum(net_tx_bytes) AS net_tx_bytes
            FROM resource_samples_hourly WHERE hour >= :start AND hour < :end
            GROUP BY 1, 2 ORDER BY 1, 2"""
    else:
        sql = """
            SELECT date_bin(CAST(:bucket AS interval), minute, CAST(:origin AS timestamptz)) AS ts,
                   instance, avg(cpu_pct) AS cpu_pct, avg(memory_pct) AS memory_pct,
                   max(disk_pct) AS disk_pct, max(db_connections) AS db_connections,
                   max(db_pool_size) AS db_pool_size, sum(net_rx_bytes) AS net_rx_bytes,
                   sum(net_tx_bytes) AS net_tx_bytes
            FROM resource_samples WHERE minute >= :start AND minute < :end
            GROUP BY 1, 2 ORDER BY 1, 2"""
    df = frame(conn, sql, params)
    for col in ("cpu_pct", "memory_pct", "disk_pct"):
        df[col] = df[col].astype(float)
    df["db_conn_pct"] = (
        100.0 * df["db_connections"].astype(float) / df["db_pool_size"].astype(float)
    )
    return df[RESOURCE_COLUMNS]


def summarize_resources_latest(conn: Connection, *, now: datetime | None = None) -> pd.DataFrame:
    """The newest sample of each instance within the last day (age tells if it is stale)."""
    now = now or datetime.now(UTC)
    df = frame(
        conn,
        """SELECT DISTINCT ON (instance) instance, minute, cpu_pct, memory_pct, disk_pct,
                  100.0 * db_connections / NULLIF(db_pool_size, 0) AS db_conn_pct
           FROM resource_samples WHERE minute > :since AND minute <= :now
           ORDER BY instance, minute DESC""",
        {"since": now - timedelta(days=1), "now": now},
    )
    df["db_conn_pct"] = df["db_conn_pct"].astype(float)
    return df

"""Hourly rollups of the per-minute time series, and the daily partitions they live in."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, text

from dashboard.domain.histogram import BUCKET_COLUMNS

PARTITIONED = ("request_metrics", "resource_samples", "health_checks", "sync_lag_samples")

_BUCKET_SUMS = ", ".join(f"sum({c})" for c in BUCKET_COLUMNS)
_BUCKET_LIST = ", ".join(BUCKET_COLUMNS)
_BUCKET_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in BUCKET_COLUMNS)

# Each statement recomputes whole hours from :since's hour on, so re-running is idempotent and
# late rows for an hour already rolled up are folded in on the next pass.
# Only the bucket column names (constants) are formatted in; values are bound parameters.
ROLLUP_SQL: dict[str, str] = {
    "request_metrics_hourly": f"""
        INSERT INTO request_metrics_hourly
            (hour, method, route, status_class, request_count, error_count, latency_sum_ms,
             {_BUCKET_LIST})
        SELECT date_trunc('hour', minute), method, route, status_class, sum(request_count),
               sum(error_count), sum(latency_sum_ms), {_BUCKET_SUMS}
        FROM request_metrics WHERE minute >= date_trunc('hour', CAST(:since AS timestamptz))
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (hour, method, route, status_class) DO UPDATE SET
            request_count = EXCLUDED.request_count, error_count = EXCLUDED.error_count,
            latency_sum_ms = EXCLUDED.latency_sum_ms, {_BUCKET_UPDATE}""",
    "resource_samples_hourly": """
        INSERT INTO resource_samples_hourly
            (hour, instance, samples, cpu_avg, cpu_max, memory_avg, memory_max, disk_max,
             db_connections_max, db_pool_size, net_rx_bytes, net_tx_bytes)
        SELECT date_trunc('hour', minute), instance, count(*), avg(cpu_pct), max(cpu_pct),
               avg(memory_pct), max(memory_pct), max(disk_pct), max(db_connections),
               max(db_pool_size), sum(net_rx_bytes), sum(net_tx_bytes)
        FROM resource_samples WHERE minute >= date_trunc('hour', CAST(:since AS timestamptz))
        GROUP BY 1, 2
        ON CONFLICT (hour, instance) DO UPDATE SET
            samples = EXCLUDED.samples, cpu_avg = EXCLUDED.cpu_avg, cpu_max = EXCLUDED.cpu_max,
            memory_avg = EXCLUDED.memory_avg, memory_max = EXCLUDED.memory_max,
            disk_max = EXCLUDED.disk_max, db_connections_max = EXCLUDED.db_connections_max,
            db_pool_size = EXCLUDED.db_pool_size, net_rx_bytes = EXCLUDED.net_rx_bytes,
            net_tx_bytes = EXCLUDED.net_tx_bytes""",
    "health_checks_hourly": """
        INSERT INTO health_checks_hourly
            (hour, component, checks, up, degraded, down, latency_avg_ms, latency_max_ms)
        SELECT date_trunc('hour', checked_at), component, count(*),
               count(*) FILTER (WHERE status = 'up'), count(*) FILTER (WHERE status = 'degraded'),
               count(*) FILTER (WHERE status = 'down'), avg(latency_ms), max(latency_ms)
        FROM health_checks WHERE checked_at >= date_trunc('hour', CAST(:since AS timestamptz))
        GROUP BY 1, 2
        ON CONFLICT (hour, component) DO UPDATE SET
            checks = EXCLUDED.checks, up = EXCLUDED.up, degraded = EXCLUDED.degraded,
            down = EXCLUDED.down, latency_avg_ms = EXCLUDED.latency_avg_ms,
            latency_max_ms = EXCLUDED.latency_max_ms""",
    "sync_lag_samples_hourly": """
        INSERT INTO sync_lag_samples_hourly
            (hour, source, samples, sources_total, sources_stale_avg, lag_avg_s, lag_max_s)
        SELECT date_trunc('hour', minute), source, count(*), max(sources_total),
               avg(sources_stale), avg(lag_avg_s), max(lag_max_s)
        FROM sync_lag_samples WHERE minute >= date_trunc('hour', CAST(:since AS timestamptz))
        GROUP BY 1, 2
        ON CONFLICT (hour, source) DO UPDATE SET
            samples = EXCLUDED.samples, sources_total = EXCLUDED.sources_total,
            sources_stale_avg = EXCLUDED.sources_stale_avg, lag_avg_s = EXCLUDED.lag_avg_s,
            lag_max_s = EXCLUDED.lag_max_s""",
}


def refresh_rollups(conn: Connection, *, since: datetime) -> dict[str, int]:
    """Recompute every hourly rollup for the hours from ``since`` on; rows written per table."""
    if since.tzinfo is None:
        raise ValueError("since must carry a time zone")
    written: dict[str, int] = {}
    for table, sql in ROLLUP_SQL.items():
        result = conn.execute(text(sql), {"since": since})
        written[table] = int(getattr(result, "rowcount", 0) or 0)
    return written


def ensure_partitions(conn: Connection, *, first_day: date, last_day: date) -> int:
    """Create the missing daily partitions of every time-series table; how many were made."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    made = 0
    for parent in PARTITIONED:
        made += int(
            conn.execute(
                text("SELECT orca_ensure_daily_partitions(:p, :a, :b)"),
                {"p": parent, "a": first_day, "b": last_day},
            ).scalar_one()
        )
    return made


def drop_partitions_before(conn: Connection, *, cutoff: date) -> int:
    """Retention: drop raw daily partitions older than ``cutoff`` (rollups stay)."""
    dropped = 0
    for parent in PARTITIONED:
        dropped += int(
            conn.execute(
                text("SELECT orca_drop_partitions_before(:p, :c)"), {"p": parent, "c": cutoff}
            ).scalar_one()
        )
    return dropped

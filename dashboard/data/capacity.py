"""Capacity samples: what the worker records once a day, and the 90-day series the review reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

import pandas as pd
import redis
from sqlalchemy import Connection, text

from dashboard.data.errors import InvalidQuery
from dashboard.data.sql import check_range, frame

#: Metrics a daily capacity sample holds (subject "" unless said): bytes unless a unit is named.
SAMPLE_METRICS = (
    "db_size_bytes",
    "table_size_bytes",  # subject: table name
    "redis_used_memory_bytes",
    "redis_maxmemory_bytes",  # 0 when Redis has no memory limit
    "db_connections",
    "db_max_connections",
)
#: The biggest tables recorded per day (the rest add up in db_size_bytes).
TOP_TABLES = 12


def measure_capacity(conn: Connection, client: redis.Redis | None) -> list[tuple[str, str, float]]:
    """Today's (metric, subject, value) triples: database and table sizes, connections, Redis."""
    rows: list[tuple[str, str, float]] = []
    rows.append(
        (
            "db_size_bytes",
            "",
            float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()),
        )
    )
    # Partitioned tables count their partitions: pg_partition_tree sums the leaves.
    tables = conn.execute(
        text("""SELECT c.relname,
                       CASE WHEN c.relkind = 'p' THEN (
                           SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)
                           FROM pg_partition_tree(c.oid) t)
                       ELSE pg_total_relation_size(c.oid) END AS bytes
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
                  AND NOT c.relispartition
                ORDER BY bytes DESC LIMIT :top"""),
        {"top": TOP_TABLES},
    ).all()
    rows.extend(("table_size_bytes", str(name), float(size)) for name, size in tables)
    used, limit = conn.execute(
        text("""SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
                       current_setting('max_connections')::int""")
    ).one()
    rows.append(("db_connections", "", float(used)))
    rows.append(("db_max_connections", "", float(limit)))
    if client is not None:
        try:
            info = client.info("memory")
        except redis.RedisError:
            info = None
        if isinstance(info, Mapping):
            rows.append(("redis_used_memory_bytes", "", float(info.get("used_memory", 0))))
            rows.append(("redis_maxmemory_bytes", "", float(info.get("maxmemory", 0))))
    return rows


def record_capacity_sample(
    conn: Connection, *, day: date, values: list[tuple[str, str, float]]
) -> int:
    """Store one day's sample; a second run on the same day replaces that day's values."""
    for metric, _, _ in values:
        if metric not in SAMPLE_METRICS:
            raise InvalidQuery(f"unknown capacity metric {metric[:40]!r}")
    for metric, subject, value in values:
        conn.execute(
            text("""INSERT INTO capacity_samples (day, metric, subject, value)
                    VALUES (:day, :metric, :subject, :value)
                    ON CONFLICT (day, metric, subject) DO UPDATE SET value = EXCLUDED.value"""),
            {"day": day, "metric": metric, "subject": subject, "value": value},
        )
    return len(values)


def list_capacity_samples(conn: Connection, *, start: date, end: date) -> pd.DataFrame:
    """Daily samples in [start, end): day, metric, subject, value."""
    if end <= start or end - start > timedelta(days=400):
        raise InvalidQuery("a capacity range must be between 1 and 400 days")
    df = frame(
        conn,
        """SELECT day, metric, subject, value FROM capacity_samples
           WHERE day >= :start AND day < :end ORDER BY day, metric, subject""",
        {"start": start, "end": end},
        columns=["day", "metric", "subject", "value"],
    )
    df["value"] = df["value"].astype(float)
    return df


def list_agent_growth(conn: Connection, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Agents per UTC day from the KPI snapshots: day, total_agents, active_agents (the day's
    last snapshot)."""
    check_range(start, end, timedelta(days=1))
    df = frame(
        conn,
        """SELECT DISTINCT ON (date_trunc('day', computed_at AT TIME ZONE 'UTC'))
                  (computed_at AT TIME ZONE 'UTC')::date AS day, total_agents, active_agents
           FROM kpi_snapshots WHERE computed_at >= :start AND computed_at < :end
           ORDER BY date_trunc('day', computed_at AT TIME ZONE 'UTC'), computed_at DESC""",
        {"start": start, "end": end},
        columns=["day", "total_agents", "active_agents"],
    )
    df["total_agents"] = df["total_agents"].astype(int)
    df["active_agents"] = df["active_agents"].astype(int)
    return df

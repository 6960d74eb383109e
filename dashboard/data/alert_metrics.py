"""The values alert rules look at, read cheaply: live probes, the newest minutes, KPI snapshots.

Every reader costs O(minutes x routes) or one indexed row, never a scan of the agent registry:
probe results come from Redis (stored checks when Redis is down), request and resource
figures from the last few per-minute rows, trust and drift from the newest KPI snapshot the
worker already computes, violations from the index on occurred_at. So one evaluation cycle
stays well under a second at a million agents (bench: ORCA_BENCH_ONLY_ALERTS=1).

A metric with no recent telemetry returns no reading: the rule then says "no data".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.data import backups, live
from dashboard.domain.histogram import BUCKET_COLUMNS, histogram_quantile

log = logging.getLogger(__name__)

#: How far back the per-minute readers look for their newest rows.
RECENT = timedelta(minutes=10)
#: Request figures are summed over this many newest minutes (one partial minute smooths out).
REQUEST_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True)
class Reading:
    """One series' newest value: ``labels`` is "" for a single series, else e.g. "instance=a"."""

    labels: str
    value: float
    observed_at: datetime


Reader = Callable[[Connection, "redis.Redis | None", datetime], list[Reading]]


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _probe(component: str) -> Reader:
    def read(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
        state: dict[str, Any] | None = None
        if client is not None:
            got = live.read_probe_results(client)
            if isinstance(got.value, dict) and isinstance(got.value.get(component), dict):
                state = got.value[component]
        if state is None:
            row = conn.execute(
                text(
                    "SELECT status, checked_at FROM health_checks WHERE component = :c "
                    "AND checked_at > :since ORDER BY checked_at DESC LIMIT 1"
                ),
                {"c": component, "since": now - RECENT},
            ).first()
            if row is None:
                return []
            state = {"status": row.status, "checked_at": row.checked_at}
        try:
            at = _utc(state.get("checked_at"))
        except (AssertionError, ValueError):
            return []
        return [Reading("", 1.0 if state.get("status") == "down" else 0.0, at)]

    return read


def _requests(conn: Connection, now: datetime) -> tuple[Any, list[float]] | None:
    bucket_cols = ", ".join(f"sum({c})" for c in BUCKET_COLUMNS)
    row = conn.execute(
        text(
            f"SELECT max(minute) AS newest, sum(request_count) AS req, sum(error_count) AS err, "  # noqa: S608 - fixed column names
            f"{bucket_cols} FROM request_metrics WHERE minute > :since AND minute <= :now"
        ),
        {"since": now - REQUEST_WINDOW - timedelta(minutes=1), "now": now},
    ).first()
    if row is None or row.newest is None or not row.req:
        # No requests in the window: look for the newest minute at all (so stale shows).
        return None
    return row, [float(v or 0) for v in tuple(row)[3:]]


def _error_rate(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
    got = _requests(conn, now)
    if got is None:
        return []
    row, _ = got
    return [Reading("", 100.0 * float(row.err or 0) / float(row.req), _utc(row.newest))]


def _p99(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
    got = _requests(conn, now)
    if got is None:
        return []
    row, counts = got
    p99 = histogram_quantile(0.99, counts)
    return [] if p99 is None else [Reading("", float(p99), _utc(row.newest))]


def _kpi(column: str) -> Reader:
    assert column in ("trust_score", "drift_rate_pct")

    def read(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
        row = conn.execute(
            text(
                f"SELECT computed_at, {column} AS v FROM kpi_snapshots "  # noqa: S608 - fixed name
                "WHERE computed_at <= :now ORDER BY computed_at DESC LIMIT 1"
            ),
            {"now": now},
        ).first()
        if row is None or row.v is None:
            return []
        return [Reading("", float(row.v), _utc(row.computed_at))]

    return read


def _sync_lag(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
    row = conn.execute(
        text(
            "SELECT minute, max(lag_max_s) AS v FROM sync_lag_samples "
            "WHERE minute = (SELECT max(minute) FROM sync_lag_samples "
            "               WHERE minute > :since AND minute <= :now) GROUP BY minute"
        ),
        {"since": now - RECENT, "now": now},
    ).first()
    if row is None or row.v is None:
        return []
    return [Reading("", float(row.v), _utc(row.minute))]


_RESOURCE_EXPR = {
    "cpu_memory_pct": "greatest(cpu_pct, memory_pct)",
    "memory_pct": "memory_pct",
    "disk_pct": "disk_pct",
    "db_conn_pct": "100.0 * db_connections / NULLIF(db_pool_size, 0)",
}


def _resource(metric: str) -> Reader:
    expr = _RESOURCE_EXPR[metric]

    def read(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
        rows = conn.execute(
            text(
                f"SELECT DISTINCT ON (instance) instance, minute, {expr} AS v "  # noqa: S608 - fixed expressions
                "FROM resource_samples WHERE minute > :since AND minute <= :now "
                "ORDER BY instance, minute DESC"
            ),
            {"since": now - RECENT, "now": now},
        ).all()
        return [
            Reading(f"instance={r.instance}", float(r.v), _utc(r.minute))
            for r in rows
            if r.v is not None
        ]

    return read


def _violations(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
    # Counted from the index on occurred_at; the count is "now", data or not (0 is a value).
    row = conn.execute(
        text(
            "SELECT count(*) AS n FROM policy_violations "
            "WHERE occurred_at > :since AND occurred_at <= :now"
        ),
        {"since": now - timedelta(days=1), "now": now},
    ).first()
    return [Reading("", float(row.n if row is not None else 0), now)]


def _backup_age(conn: Connection, client: redis.Redis | None, now: datetime) -> list[Reading]:
    # One indexed row: the newest good backup. Never backed up is "no data" (the rule's
    # no-data state shows on the Alerts page), not an invented age.
    age_s = backups.get_last_backup_age_s(conn, now=now)
    return [] if age_s is None else [Reading("", age_s / 3600, now)]


READERS: dict[str, Reader] = {
    "core_health_down": _probe("orca_core"),
    "postgresql_down": _probe("postgresql"),
    "error_rate_pct": _error_rate,
    "p99_latency_ms": _p99,
    "trust_score": _kpi("trust_score"),
    "drift_rate_pct": _kpi("drift_rate_pct"),
    "sync_lag_s": _sync_lag,
    "cpu_memory_pct": _resource("cpu_memory_pct"),
    "memory_pct": _resource("memory_pct"),
    "disk_pct": _resource("disk_pct"),
    "db_conn_pct": _resource("db_conn_pct"),
    "violations_24h": _violations,
    "backup_age_h": _backup_age,
}


def read_metrics(
    conn: Connection, client: redis.Redis | None, *, metrics: Iterable[str], now: datetime
) -> dict[str, list[Reading]]:
    """The newest readings of each named metric (each read once, however many rules use it).

    A metric whose query fails gives no readings (its rules say "no data") and is logged;
    the other metrics are still read. Each reader runs in a savepoint, so one failure does
    not abort the caller's transaction.
    """
    found: dict[str, list[Reading]] = {}
    for metric in dict.fromkeys(metrics):
        reader = READERS.get(metric)
        if reader is None:
            raise ValueError(f"no reader for metric {metric!r}")
        try:
            with conn.begin_nested():
                found[metric] = reader(conn, client, now)
        except SQLAlchemyError as exc:
            log.warning("alert metric %s not read: %s", metric, exc.__class__.__name__)
            found[metric] = []
    return found

"""The data the guided troubleshooting flows ask about: logs, memory trend, slow endpoints,
the slowest queries (pg_stat_statements when installed), trust drops, violations, sync gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.data.metrics import list_endpoint_stats, list_resource_series


@dataclass(frozen=True)
class LogTail:
    path: Path | None
    lines: tuple[str, ...]
    note: str


def tail_log(candidates: list[Path], *, lines: int = 40, errors_only: bool = False) -> LogTail:
    """The last ``lines`` lines of the first log file that exists (errors and warnings only)."""
    for path in candidates:
        if path.is_file():
            with path.open("rb") as fh:
                fh.seek(max(0, path.stat().st_size - 256_000))
                text_ = fh.read().decode("utf-8", "replace")
            found = text_.splitlines()
            if errors_only:
                found = [
                    ln
                    for ln in found
                    if any(w in ln.lower() for w in ("error", "warn", "traceback", "exception"))
                ]
            return LogTail(
                path, tuple(found[-lines:]), "" if found else "nothing matching in the log"
            )
    return LogTail(None, (), "no log file here: " + ", ".join(str(p) for p in candidates))


def list_slow_endpoints(conn: Connection, *, start: datetime, end: datetime) -> pd.DataFrame:
    df = list_endpoint_stats(conn, start=start, end=end)
    if df.empty:
        return df
    return (
        df.sort_values("p95_ms", ascending=False, na_position="last")
        .head(10)
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class SlowQueries:
    available: bool
    note: str
    rows: pd.DataFrame


def list_slowest_queries(conn: Connection, *, limit: int = 10) -> SlowQueries:
    """The slowest statements by mean time, when pg_stat_statements is installed here."""
    installed = conn.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    ).scalar()
    if not installed:
        return SlowQueries(
            False,
            "pg_stat_statements is not installed in this database, so the slowest queries "
            "cannot be listed. To enable it: shared_preload_libraries = 'pg_stat_statements' "
            "in postgresql.conf, restart, then CREATE EXTENSION pg_stat_statements.",
            pd.DataFrame(),
        )
    try:
        with conn.begin_nested():
            rows = conn.execute(
                text(
                    "SELECT left(query, 200) AS query, calls, round(mean_exec_time::numeric, 2) "
                    "AS mean_ms, round(total_exec_time::numeric, 0) AS total_ms, rows "
                    "FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT :n"
                ),
                {"n": limit},
            ).mappings()
            df = pd.DataFrame([dict(r) for r in rows])
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return SlowQueries(False, f"pg_stat_statements could not be read: {reason}", pd.DataFrame())
    return SlowQueries(True, "slowest statements by mean time since the last reset", df)


def list_memory_trend(conn: Connection, *, start: datetime, end: datetime) -> pd.DataFrame:
    df = list_resource_series(conn, start=start, end=end, bucket=timedelta(minutes=10))
    return df[["ts", "instance", "memory_pct"]] if not df.empty else df


def memory_growth_per_hour(trend: pd.DataFrame) -> float | None:
    """Percentage points per hour (least squares over the trend), None without two points."""
    if trend.empty or len(trend) < 2:
        return None
    t = (pd.to_datetime(trend["ts"]) - pd.to_datetime(trend["ts"]).min()).dt.total_seconds() / 3600
    y = trend["memory_pct"].astype(float)
    denom = float(((t - t.mean()) ** 2).sum())
    if denom == 0:
        return None
    return float(((t - t.mean()) * (y - y.mean())).sum() / denom)


def list_recent_violations(conn: Connection, *, start: datetime, end: datetime) -> pd.DataFrame:
    rows = conn.execute(
        text(
            "SELECT v.policy_id AS policy, v.severity, count(*) AS violations, "
            "count(DISTINCT v.agent_id) AS agents, max(v.occurred_at) AS latest "
            "FROM policy_violations v WHERE v.occurred_at >= :a AND v.occurred_at < :b "
            "GROUP BY v.policy_id, v.severity ORDER BY violations DESC LIMIT 15"
        ),
        {"a": start, "b": end},
    ).mappings()
    return pd.DataFrame([dict(r) for r in rows])

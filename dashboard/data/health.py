"""Component health: recorded checks, uptime % per window, the recent heartbeat strip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from dashboard.data.errors import InvalidQuery
from dashboard.data.rollups import ensure_partitions
from dashboard.domain.enums import CheckStatus, Component, values

DEFAULT_WINDOWS = (timedelta(hours=24), timedelta(days=7), timedelta(days=30))
_partitions_made: set[tuple[str, object]] = set()


def _label(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        days = window // timedelta(days=1)
        return f"{days * 24} h" if days == 1 else f"{days} d"
    return f"{window // timedelta(hours=1)} h"


def summarize_uptime(
    session: Session, *, now: datetime, windows: Sequence[timedelta] = DEFAULT_WINDOWS
) -> pd.DataFrame:
    """Uptime % (share of `up` checks) per component and window, from hourly rollups + this hour.

    Columns: component, window (label such as "24 h"), uptime_pct (None with no checks), checks.
    """
    rows: list[dict[str, object]] = []
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    for window in windows:
        if window <= timedelta(0) or window > timedelta(days=400):
            raise InvalidQuery("uptime windows must be between 0 and 400 days")
        result = session.execute(
            text("""
            SELECT component, sum(up) AS up, sum(checks) AS checks FROM (
                SELECT component, up, checks FROM health_checks_hourly
                WHERE hour >= date_trunc('hour', CAST(:since AS timestamptz)) AND hour < :this_hour
                UNION ALL
                SELECT component, (status = 'up')::int, 1 FROM health_checks
                WHERE checked_at >= :this_hour AND checked_at <= :now
            ) t GROUP BY component"""),
            {"since": now - window, "this_hour": this_hour, "now": now},
        )
        found = {r.component: (int(r.up), int(r.checks)) for r in result}
        for component in values(Component):
            up, checks = found.get(component, (0, 0))
            rows.append(
                {
                    "component": component,
                    "window": _label(window),
                    "uptime_pct": (100.0 * up / checks) if checks else None,
                    "checks": checks,
                }
            )
    return pd.DataFrame(rows, columns=["component", "window", "uptime_pct", "checks"])


def list_health_checks(
    session: Session,
    *,
    since: datetime,
    until: datetime | None = None,
    component: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Recent checks, newest first: checked_at, component, status, latency_ms, message."""
    if component is not None and component not in values(Component):
        raise InvalidQuery(f"unknown component {component[:40]!r}")
    if not 1 <= limit <= 10_000:
        raise InvalidQuery("limit must be between 1 and 10,000")
    sql = """SELECT checked_at, component, status, latency_ms, message FROM health_checks
             WHERE checked_at >= :since AND (CAST(:until AS timestamptz) IS NULL
                                             OR checked_at <= :until)
               AND (CAST(:component AS text) IS NULL OR component = :component)
             ORDER BY checked_at DESC LIMIT :limit"""
    result = session.execute(
        text(sql), {"since": since, "until": until, "component": component, "limit": limit}
    )
    df = pd.DataFrame(
        result.fetchall(), columns=["checked_at", "component", "status", "latency_ms", "message"]
    )
    df["checked_at"] = pd.to_datetime(df["checked_at"], utc=True)
    df["latency_ms"] = df["latency_ms"].astype(float)
    return df


def record_health_check(
    session: Session,
    *,
    component: str,
    status: str,
    checked_at: datetime,
    latency_ms: float | None,
    message: str | None,
) -> None:
    """Store one check (creating the day's partition if needed); the latest wins on a tie."""
    if component not in values(Component):
        raise InvalidQuery(f"unknown component {component[:40]!r}")
    if status not in values(CheckStatus):
        raise InvalidQuery(f"unknown check status {status[:40]!r}")
    day = checked_at.date()
    if ("health_checks", day) not in _partitions_made:
        ensure_partitions(session, first_day=day, last_day=day + timedelta(days=1))
        _partitions_made.add(("health_checks", day))
    session.execute(
        text("""INSERT INTO health_checks (checked_at, component, status, latency_ms, message)
                VALUES (:at, :c, :s, :l, :m)
                ON CONFLICT (checked_at, component) DO UPDATE SET status = EXCLUDED.status,
                    latency_ms = EXCLUDED.latency_ms, message = EXCLUDED.message"""),
        {
            "at": checked_at,
            "c": component,
            "s": status,
            "l": latency_ms,
            "m": (message or None) and message[:2000],
        },
    )

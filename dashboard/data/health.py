"""Component health: recorded checks, uptime % per window, the recent heartbeat strip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, text

from dashboard.data.errors import InvalidQuery
from dashboard.domain.enums import CheckStatus, Component, values

DEFAULT_WINDOWS = (timedelta(hours=24), timedelta(days=7), timedelta(days=30))


def _label(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        days = window // timedelta(days=1)
        return f"{days * 24} h" if days == 1 else f"{days} d"
    return f"{window // timedelta(hours=1)} h"


def _hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def summarize_uptime(
    conn: Connection, *, now: datetime, windows: Sequence[timedelta] = DEFAULT_WINDOWS
) -> pd.DataFrame:
    """Uptime % (share of `up` checks) per component over each window [now - window, now].

    Whole hours come from health_checks_hourly; the partial hours at both ends (the current
    one, and the start of the window when it is not on the hour) from the raw checks, so a
    30-day window reads ~720 rollup rows per component and at most two hours of raw rows.
    Columns: component, window (label such as "24 h"), uptime_pct (None with no checks),
    checks. Every known component has a row, with 0 checks when none were recorded.
    """
    if now.tzinfo is None:
        raise InvalidQuery("now must carry a time zone")
    rows: list[dict[str, object]] = []
    for window in windows:
        if window <= timedelta(0) or window > timedelta(days=400):
            raise InvalidQuery("uptime windows must be between 0 and 400 days")
        since = now - window
        first_hour = _hour_floor(since)
        if first_hour < since:
            first_hour += timedelta(hours=1)
        this_hour = _hour_floor(now)
        if first_hour >= this_hour:  # shorter than the whole hours it would need: raw only
            head_end = hours_from = hours_to = tail_from = since
        else:
            head_end, hours_from, hours_to, tail_from = first_hour, first_hour, this_hour, this_hour
        result = conn.execute(
            text("""
            SELECT component, sum(up) AS up, sum(checks) AS checks FROM (
                SELECT component, up, checks FROM health_checks_hourly
                WHERE hour >= :hours_from AND hour < :hours_to
                UNION ALL
                SELECT component, (status = 'up')::int, 1 FROM health_checks
                WHERE checked_at >= :since AND checked_at < :head_end
                UNION ALL
                SELECT component, (status = 'up')::int, 1 FROM health_checks
                WHERE checked_at >= :tail_from AND checked_at >= :since
                  AND checked_at <= :now
            ) t GROUP BY component"""),
            {
                "since": since,
                "now": now,
                "head_end": head_end,
                "hours_from": hours_from,
                "hours_to": hours_to,
                "tail_from": tail_from,
            },
        )
        found = {r.component: (int(r.up), int(r.checks)) for r in result}
        for component in [*values(Component), *sorted(set(found) - set(values(Component)))]:
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
    conn: Connection,
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
    result = conn.execute(
        text(sql), {"since": since, "until": until, "component": component, "limit": limit}
    )
    df = pd.DataFrame(
        result.fetchall(), columns=["checked_at", "component", "status", "latency_ms", "message"]
    )
    df["checked_at"] = pd.to_datetime(df["checked_at"], utc=True)
    df["latency_ms"] = df["latency_ms"].astype(float)
    return df


def record_health_check(
    conn: Connection,
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
    if checked_at.tzinfo is None:
        raise InvalidQuery("checked_at must carry a time zone")
    # Partitions are per UTC day. Asked every time (a to_regclass lookup when it exists): a
    # process-wide "already made" memo would lie after a rolled-back transaction or a
    # retention drop, and the insert would then fail for want of a partition.
    day = checked_at.astimezone(UTC).date()
    conn.execute(text("SELECT orca_ensure_daily_partitions('health_checks', :d, :d)"), {"d": day})
    conn.execute(
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

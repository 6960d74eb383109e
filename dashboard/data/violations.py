"""Policy violations for the reports: per day against the guide's 5/day, and SLA misses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection

from dashboard.data.errors import InvalidQuery
from dashboard.data.kpis import _DEADLINE_CASE
from dashboard.data.sql import check_range, frame


def list_violations_per_day(conn: Connection, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Violations per UTC day in [start, end): day, violations, blocked (days with none: 0)."""
    check_range(start, end, timedelta(days=1))
    df = frame(
        conn,
        """SELECT d.day::date AS day, count(v.id) AS violations,
                  count(v.id) FILTER (WHERE v.action = 'blocked') AS blocked
           FROM generate_series(date_trunc('day', CAST(:start AS timestamptz) AT TIME ZONE 'UTC'),
                                CAST(:end AS timestamptz) AT TIME ZONE 'UTC'
                                    - interval '1 microsecond',
                                interval '1 day') AS d(day)
           LEFT JOIN policy_violations v
             ON v.occurred_at >= (d.day AT TIME ZONE 'UTC')
            AND v.occurred_at < ((d.day + interval '1 day') AT TIME ZONE 'UTC')
            AND v.occurred_at >= :start AND v.occurred_at < :end
           GROUP BY 1 ORDER BY 1""",
        {"start": start, "end": end},
    )
    df["violations"] = df["violations"].astype(int)
    df["blocked"] = df["blocked"].astype(int)
    return df


def list_sla_misses(
    conn: Connection, *, start: datetime, end: datetime, now: datetime, limit: int = 50
) -> pd.DataFrame:
    """Violations of [start, end) that missed their Compliance SLA deadline, as the KPI counts
    them (resolved late, or still open past the deadline at ``now``), most severe first.

    Columns: id, agent_id, agent_name, policy_id, severity, occurred_at, resolved_at,
    deadline_at."""
    check_range(start, end)
    if not 1 <= limit <= 1000:
        raise InvalidQuery("limit must be between 1 and 1,000")
    return frame(
        conn,
        f"""SELECT v.id, v.agent_id, a.name AS agent_name, v.policy_id, v.severity,
                   v.occurred_at, v.resolved_at, v.occurred_at + {_DEADLINE_CASE} AS deadline_at
            FROM policy_violations v JOIN agents a ON a.id = v.agent_id
            WHERE v.occurred_at >= :start AND v.occurred_at < :end
              AND ((v.resolved_at IS NOT NULL AND v.resolved_at > v.occurred_at + {_DEADLINE_CASE})
                   OR (v.resolved_at IS NULL
                       AND CAST(:now AS timestamptz) > v.occurred_at + {_DEADLINE_CASE}))
            ORDER BY CASE v.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3
                                     WHEN 'medium' THEN 2 ELSE 1 END DESC,
                     v.occurred_at DESC, v.id
            LIMIT :limit""",  # noqa: S608 - the CASE is built from constants
        {"start": start, "end": end, "now": now, "limit": limit},
    ).astype({"deadline_at": "datetime64[ns, UTC]"})

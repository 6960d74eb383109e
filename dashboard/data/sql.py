"""Small shared helpers for data functions: time-series table choice, frames from results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from dashboard.data.errors import InvalidQuery
from dashboard.domain.timebuckets import use_hourly_rollup

# Origin of every date_bin: buckets line up across queries and pages.
BIN_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
MAX_BUCKETS = 5000


def check_range(start: datetime, end: datetime, bucket: timedelta | None = None) -> None:
    """Reject naive datetimes, empty ranges and buckets that would exceed the point budget."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidQuery("time range bounds must carry a time zone")
    if end <= start:
        raise InvalidQuery("the end of the time range must be after its start")
    if end - start > timedelta(days=400):
        raise InvalidQuery("a time range may span at most 400 days")
    if bucket is not None:
        if bucket < timedelta(minutes=1):
            raise InvalidQuery("buckets must be at least one minute")
        if (end - start) / bucket > MAX_BUCKETS:
            raise InvalidQuery("too many buckets for this range; choose a larger bucket")


def series_source(raw: str, hourly: str, raw_ts: str, bucket: timedelta) -> tuple[str, str]:
    """(table, time column): 1-hour rollups for buckets of an hour or more, raw rows otherwise."""
    if use_hourly_rollup(bucket):
        return hourly, "hour"
    return raw, raw_ts


def frame(
    conn: Connection, sql: str, params: Mapping[str, Any], columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Run a bound-parameter query and return its rows as a DataFrame (typed, even when empty)."""
    result = conn.execute(text(sql), dict(params))
    cols = list(columns) if columns is not None else list(result.keys())
    df = pd.DataFrame(result.fetchall(), columns=cols)
    for col in df.columns:
        if col in {
            "ts",
            "checked_at",
            "detected_at",
            "resolved_at",
            "computed_at",
            "minute",
            "discovered_at",
            "last_seen_at",
            "quarantined_at",
            "reviewed_at",
            "occurred_at",
            "changed_at",
            "last_success_at",
            "last_attempt_at",
        }:
            df[col] = pd.to_datetime(df[col], utc=True)
    return df

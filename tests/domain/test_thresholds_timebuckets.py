"""Thresholds classifier and time-bucket choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.domain.thresholds import level
from dashboard.domain.timebuckets import (
    TimeRange,
    choose_bucket,
    resolve_preset,
    use_hourly_rollup,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("error_rate_pct", 0.5, "ok"),
        ("error_rate_pct", 1.5, "warn"),
        ("error_rate_pct", 6, "critical"),
        ("trust_score", 80, "ok"),
        ("trust_score", 69, "warn"),
        ("trust_score", 49, "critical"),
        ("cpu_pct", 79, "ok"),
        ("cpu_pct", 81, "warn"),
        ("p99_latency_ms", 501, "warn"),
        ("drift_rate_pct", 16, "critical"),
        ("sync_lag_s", 301, "critical"),
        ("disk_pct", 10, "ok"),
    ],
)
def test_levels(metric: str, value: float, expected: str) -> None:
    assert level(metric, value) == expected


def test_level_unknown_and_none() -> None:
    assert level("cpu_pct", None) is None
    with pytest.raises(ValueError):
        level("vibes", 1)


@pytest.mark.parametrize(
    ("preset", "bucket"),
    [
        ("1h", timedelta(minutes=1)),
        ("6h", timedelta(minutes=1)),
        ("24h", timedelta(minutes=1)),
        ("7d", timedelta(minutes=15)),
        ("30d", timedelta(hours=1)),
    ],
)
def test_buckets_stay_under_2000_points(preset: str, bucket: timedelta) -> None:
    tr = resolve_preset(preset, NOW)
    chosen = choose_bucket(tr)
    assert chosen == bucket
    assert tr.span / chosen <= 2000


def test_ninety_days_use_rollups() -> None:
    tr = TimeRange(NOW - timedelta(days=90), NOW)
    b = choose_bucket(tr)
    assert use_hourly_rollup(b)
    assert tr.span / b <= 2000
    assert not use_hourly_rollup(timedelta(minutes=15))


def test_bad_ranges() -> None:
    with pytest.raises(ValueError, match="after"):
        TimeRange(NOW, NOW)
    with pytest.raises(ValueError, match="time zone"):
        TimeRange(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="unknown time range"):
        resolve_preset("2y", NOW)
    assert TimeRange(NOW - timedelta(hours=1), NOW).previous() == TimeRange(
        NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    )

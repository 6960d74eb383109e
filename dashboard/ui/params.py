"""Time range, refresh interval and filters kept in the URL, so a link reproduces a view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dashboard.data import panels
from dashboard.domain.timebuckets import PRESETS, TimeRange, choose_bucket, resolve_preset

REFRESH_CHOICES = {"off": None, "10 s": 10, "30 s": 30, "1 min": 60, "5 min": 300}
RANGE_LABELS = {
    "1h": "Last 1 h",
    "6h": "Last 6 h",
    "24h": "Last 24 h",
    "7d": "Last 7 d",
    "30d": "Last 30 d",
    "custom": "Custom",
}
DEFAULT_RANGE = panels.DEFAULT_RANGE


@dataclass(frozen=True)
class RangeChoice:
    key: str
    time_range: TimeRange
    bucket: timedelta
    error: str | None = None


def parse_range(params: dict[str, str], now: datetime) -> RangeChoice:
    """Range from ?range=7d or ?range=custom&start=YYYY-MM-DD&end=YYYY-MM-DD; bad input -> default."""
    key = params.get("range", DEFAULT_RANGE)
    if key == "custom":
        try:
            start = datetime.combine(date.fromisoformat(params.get("start", "")), time(), UTC)
            end = datetime.combine(date.fromisoformat(params.get("end", "")), time(), UTC)
            end = min(end + timedelta(days=1), now)
            tr = TimeRange(start, end)
            return RangeChoice("custom", tr, choose_bucket(tr))
        except (ValueError, OverflowError) as exc:  # 9999-12-31 + 1 day overflows
            tr = resolve_preset(DEFAULT_RANGE, now)
            return RangeChoice(DEFAULT_RANGE, tr, choose_bucket(tr), f"Custom range ignored: {exc}")
    if key not in PRESETS:
        tr = resolve_preset(DEFAULT_RANGE, now)
        return RangeChoice(
            DEFAULT_RANGE,
            tr,
            choose_bucket(tr),
            f"Unknown range {key[:20]!r}; showing the last 24 h.",
        )
    tr = resolve_preset(key, now)
    return RangeChoice(key, tr, choose_bucket(tr))


def parse_refresh(params: dict[str, str]) -> str:
    value = params.get("refresh", "off")
    return value if value in REFRESH_CHOICES else "off"


def bucket_label(bucket: timedelta) -> str:
    minutes = int(bucket.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 1440:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"

"""Time ranges and SQL bucket sizes: a chart never gets more than ~2,000 points per trace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

PRESETS: Final[dict[str, timedelta]] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
BUCKETS: Final[tuple[timedelta, ...]] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
MAX_RANGE: Final = timedelta(days=400)
MAX_POINTS: Final = 2000


@dataclass(frozen=True)
class TimeRange:
    """A half-open [start, end) interval in aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time range bounds must carry a time zone")
        if self.end <= self.start:
            raise ValueError("the end of a time range must be after its start")
        if self.end - self.start > MAX_RANGE:
            raise ValueError(f"a time range may span at most {MAX_RANGE.days} days")

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> TimeRange:
        """The period of the same length just before this one (for 'change vs previous')."""
        return TimeRange(self.start - self.span, self.start)


def resolve_preset(name: str, now: datetime) -> TimeRange:
    try:
        span = PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown time range {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
    return TimeRange(now - span, now)


def choose_bucket(time_range: TimeRange, max_points: int = MAX_POINTS) -> timedelta:
    """The smallest bucket that keeps the range within ``max_points`` buckets."""
    for bucket in BUCKETS:
        if time_range.span / bucket <= max_points:
            return bucket
    return BUCKETS[-1]


def use_hourly_rollup(bucket: timedelta) -> bool:
    """Buckets of an hour or more are answered from the 1-hour rollup tables."""
    return bucket >= timedelta(hours=1)

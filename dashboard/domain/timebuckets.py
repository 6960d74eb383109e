"""Time ranges and SQL bucket sizes, so a chart never gets more than 800 points per trace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

#: The time-range picker's presets.
PRESETS: Final[Mapping[str, timedelta]] = MappingProxyType(
    {
        "1h": timedelta(hours=1),
        "6h": timedelta(hours=6),
        "24h": timedelta(hours=24),
        "7d": timedelta(days=7),
        "30d": timedelta(days=30),
    }
)
#: Bucket sizes the SQL layer bins by, smallest first; each divides a day, so buckets of
#: different charts line up.
BUCKETS: Final[tuple[timedelta, ...]] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
#: Longest range a view may ask for: daily buckets then stay far below the point budget.
MAX_RANGE: Final = timedelta(days=400)
#: Point budget per chart trace (DESIGN.md: at most ~2,000). A chart is at most ~900 px wide
#: on the 1,400 px layout (half that in the two-column sections), so more points than this only
#: cost the browser: at 1-minute buckets a 24 h Service Health chart carried 1,440 points a
#: trace (about 175 KB of JSON per figure) and Plotly's parsing and drawing of them was the
#: largest part of a warm page load. 800 gives 24 h in 5-minute buckets, 7 d in 15-minute and
#: 30 d in hourly ones; 1 h and 6 h keep 1-minute detail.
MAX_POINTS: Final = 800
#: Buckets of this size and more are read from the 1-hour rollups, never from raw rows.
HOURLY_ROLLUP_FROM: Final = timedelta(hours=1)
#: Origin of every SQL date_bin (a Monday, midnight UTC): must equal
#: dashboard.data.sql.BIN_ORIGIN so that counted buckets are the buckets SQL returns.
BIN_ORIGIN: Final = datetime(2000, 1, 3, tzinfo=UTC)
# timedelta's resolution: the last instant inside a half-open range is end - this.
_TICK: Final = timedelta(microseconds=1)


def _is_aware(moment: datetime) -> bool:
    # tzinfo alone is not enough: a tzinfo whose utcoffset() is None still leaves it naive.
    return moment.utcoffset() is not None


@dataclass(frozen=True)
class TimeRange:
    """A half-open interval [start, end) of time-zone-aware datetimes, at most MAX_RANGE long."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not (_is_aware(self.start) and _is_aware(self.end)):
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
    """The preset range ending at ``now``, e.g. "24h" -> [now - 24 h, now)."""
    try:
        span = PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown time range {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
    return TimeRange(now - span, now)


def bucket_count(time_range: TimeRange, bucket: timedelta, origin: datetime = BIN_ORIGIN) -> int:
    """How many date_bin buckets (aligned on ``origin``) the range touches: points per trace.

    A range that does not start on a bucket boundary touches one bucket more than
    span / bucket, so this counts bins rather than dividing.
    """
    if bucket <= timedelta(0):
        raise ValueError(f"a bucket must be a positive duration, got {bucket}")
    first = (time_range.start - origin) // bucket
    last = (time_range.end - _TICK - origin) // bucket
    return last - first + 1


def choose_bucket(time_range: TimeRange, max_points: int = MAX_POINTS) -> timedelta:
    """The smallest bucket of BUCKETS giving at most ``max_points`` points over the range.

    When not even daily buckets fit (only for a tiny ``max_points``) the daily bucket is the
    answer: the chart layer thins the points out as a last guard.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    for bucket in BUCKETS:
        if bucket_count(time_range, bucket) <= max_points:
            return bucket
    return BUCKETS[-1]


def use_hourly_rollup(bucket: timedelta) -> bool:
    """Whether a chart of this bucket size reads the 1-hour rollup tables instead of raw rows."""
    return bucket >= HOURLY_ROLLUP_FROM

"""Time ranges, presets and the bucket choice that keeps a trace within ~2,000 points."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from dashboard.domain.timebuckets import (
    BUCKETS,
    MAX_POINTS,
    PRESETS,
    TimeRange,
    bucket_count,
    choose_bucket,
    resolve_preset,
    use_hourly_rollup,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # on every bucket boundary up to 6 h
MINUTE = timedelta(minutes=1)


class _NoOffset(tzinfo):
    """A tzinfo that knows no offset: the datetime is still naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_presets() -> None:
    assert dict(PRESETS) == {
        "1h": timedelta(hours=1),
        "6h": timedelta(hours=6),
        "24h": timedelta(days=1),
        "7d": timedelta(days=7),
        "30d": timedelta(days=30),
    }
    assert resolve_preset("7d", NOW) == TimeRange(NOW - timedelta(days=7), NOW)
    with pytest.raises(ValueError, match="unknown time range '2y'; choose one of 1h, 6h"):
        resolve_preset("2y", NOW)


@pytest.mark.parametrize(
    ("preset", "bucket", "points"),
    [
        ("1h", MINUTE, 60),
        ("6h", MINUTE, 360),
        ("24h", 5 * MINUTE, 288),  # 1 min would give 1440
        ("7d", 15 * MINUTE, 672),  # 5 min would give 2016
        ("30d", timedelta(hours=1), 720),  # 15 min would give 2880
    ],
)
def test_preset_buckets(preset: str, bucket: timedelta, points: int) -> None:
    tr = resolve_preset(preset, NOW)
    assert choose_bucket(tr) == bucket
    assert bucket_count(tr, bucket) == points
    # An unaligned "now" touches one more bucket but does not change the choice.
    odd = resolve_preset(preset, NOW + timedelta(seconds=17))
    assert choose_bucket(odd) == bucket
    assert bucket_count(odd, bucket) == points + 1


def test_bucket_count_counts_touched_bins() -> None:
    tr = TimeRange(NOW, NOW + timedelta(minutes=10))
    assert bucket_count(tr, MINUTE) == 10  # aligned: end is exclusive
    assert bucket_count(tr, 5 * MINUTE) == 2
    shifted = TimeRange(NOW + timedelta(seconds=30), NOW + timedelta(minutes=10, seconds=30))
    assert bucket_count(shifted, MINUTE) == 11
    tiny = TimeRange(NOW, NOW + timedelta(microseconds=1))
    assert bucket_count(tiny, timedelta(days=1)) == 1
    with pytest.raises(ValueError, match="positive"):
        bucket_count(tr, timedelta(0))


def test_eight_hundred_points_is_the_limit() -> None:
    assert MAX_POINTS == 800
    exact = TimeRange(NOW, NOW + 800 * MINUTE)
    assert choose_bucket(exact) == MINUTE  # exactly 800 points fit
    unaligned = TimeRange(NOW + timedelta(seconds=30), NOW + timedelta(seconds=30) + 800 * MINUTE)
    assert choose_bucket(unaligned) == 5 * MINUTE  # it would touch 801 minute buckets
    # 2,000 min touch 134 quarter-hours (the last one partly) and 34 hours.
    longer = TimeRange(NOW, NOW + 2000 * MINUTE)
    assert bucket_count(longer, 15 * MINUTE) == 134
    assert choose_bucket(longer, max_points=134) == 15 * MINUTE
    assert choose_bucket(longer, max_points=133) == timedelta(hours=1)


def test_long_ranges_use_hourly_rollups() -> None:
    ninety = TimeRange(NOW - timedelta(days=90), NOW)
    assert choose_bucket(ninety) == timedelta(hours=6)  # 1 h would give 2160
    longest = TimeRange(NOW - timedelta(days=400), NOW)
    assert choose_bucket(longest) == timedelta(days=1)  # 6 h would give 1600
    assert use_hourly_rollup(choose_bucket(ninety))


def test_tiny_budgets_fall_back_to_days() -> None:
    month = resolve_preset("30d", NOW)
    assert choose_bucket(month, max_points=10) == timedelta(days=1)
    with pytest.raises(ValueError, match="at least 1"):
        choose_bucket(month, max_points=0)


def test_choice_is_the_smallest_that_fits_for_random_ranges() -> None:
    rng = random.Random(2026)  # fixed seed: the same ranges on every run
    for _ in range(2000):
        start = NOW - timedelta(seconds=rng.uniform(0, 400 * 86_400))
        span = timedelta(seconds=rng.uniform(60, 400 * 86_400))
        tr = TimeRange(start, min(start + span, start + timedelta(days=400)))
        chosen = choose_bucket(tr)
        assert bucket_count(tr, chosen) <= MAX_POINTS
        smaller = BUCKETS[: BUCKETS.index(chosen)]
        assert all(bucket_count(tr, b) > MAX_POINTS for b in smaller)


def test_use_hourly_rollup() -> None:
    assert not use_hourly_rollup(MINUTE)
    assert not use_hourly_rollup(15 * MINUTE)
    assert not use_hourly_rollup(timedelta(minutes=59, seconds=59))
    assert use_hourly_rollup(timedelta(hours=1))
    assert use_hourly_rollup(timedelta(days=1))


def test_time_range_validation() -> None:
    with pytest.raises(ValueError, match="after its start"):
        TimeRange(NOW, NOW)
    with pytest.raises(ValueError, match="after its start"):
        TimeRange(NOW, NOW - MINUTE)
    with pytest.raises(ValueError, match="time zone"):
        TimeRange(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="time zone"):
        TimeRange(NOW, datetime(2026, 11, 21, tzinfo=_NoOffset()))
    with pytest.raises(ValueError, match="400 days"):
        TimeRange(NOW - timedelta(days=400, seconds=1), NOW)
    assert TimeRange(NOW - timedelta(days=400), NOW).span == timedelta(days=400)
    # Bounds in different zones are fine: they are instants.
    paris = timezone(timedelta(hours=1))
    tr = TimeRange(datetime(2026, 11, 20, 12, tzinfo=paris), NOW)
    assert tr.span == timedelta(hours=1)
    with pytest.raises(AttributeError):
        tr.start = NOW  # type: ignore[misc]


def test_previous_period() -> None:
    tr = TimeRange(NOW - timedelta(hours=6), NOW)
    assert tr.previous() == TimeRange(NOW - timedelta(hours=12), NOW - timedelta(hours=6))

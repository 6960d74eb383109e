"""Capacity forecasts on synthetic series whose crossing day is known in advance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.domain.forecast import fit_linear, forecast_crossing
from dashboard.domain.periods import (
    last_calendar_month,
    last_quarter,
    period_label,
    previous_period,
)

START = datetime(2026, 9, 4, tzinfo=UTC)


def _series(
    first: float, slope: float, days: int = 90, noise: float = 0.0
) -> list[tuple[datetime, float]]:
    return [
        (START + timedelta(days=i), first + slope * i + (noise if i % 2 else -noise))
        for i in range(days)
    ]


def test_known_slope_finds_the_known_crossing_day() -> None:
    # 40 % on 2026-09-04, +0.25 % a day: 80 % is reached 160 days later, on 2027-02-11.
    points = _series(40.0, 0.25)
    now = points[-1][0]
    fc = forecast_crossing("disk", points, threshold=80.0, now=now)
    assert fc.outlook == "crosses"
    assert fc.crosses_on == START.date() + timedelta(days=160) == date(2027, 2, 11)
    assert fc.slope_per_day == pytest.approx(0.25)
    assert fc.sentence() == "disk reaches 80 % around 2027-02-11"


def test_noise_around_the_line_keeps_the_day() -> None:
    points = _series(40.0, 0.25, noise=1.5)
    fc = forecast_crossing("disk", points, threshold=80.0, now=points[-1][0])
    assert fc.crosses_on is not None
    assert abs((fc.crosses_on - date(2027, 2, 11)).days) <= 1


def test_flat_falling_crossed_and_short_series() -> None:
    now = START + timedelta(days=89)
    assert forecast_crossing("m", _series(50, 0.0), threshold=85, now=now).outlook == "never"
    assert forecast_crossing("m", _series(70, -0.1), threshold=85, now=now).outlook == "never"
    crossed = forecast_crossing("m", _series(70, 0.2), threshold=85, now=now)
    assert crossed.outlook == "crossed"
    assert "already at or above 85 %" in crossed.sentence()
    # The date is said plainly: the first day of the run at or over the threshold.
    assert crossed.crosses_on == (START + timedelta(days=75)).date()
    assert f"(since {crossed.crosses_on.isoformat()})" in crossed.sentence()
    short = forecast_crossing("m", _series(10, 1, days=2), threshold=85, now=now)
    assert short.outlook == "unknown"
    # Decades away at a trickle: not a date anyone should plan on.
    assert forecast_crossing("m", _series(1, 0.0001), threshold=85, now=now).outlook == "never"


def test_fit_reports_a_perfect_line() -> None:
    fit = fit_linear(_series(3.0, 2.0, days=10))
    assert fit is not None
    assert fit.slope_per_day == pytest.approx(2.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit_linear([(START, 1.0)] * 5) is None


def test_periods() -> None:
    now = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
    assert last_calendar_month(now) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    jan = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert last_calendar_month(jan) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert last_quarter(now) == (
        datetime(2026, 7, 1, tzinfo=UTC),
        datetime(2026, 10, 1, tzinfo=UTC),
    )
    nov = last_calendar_month(now)
    assert previous_period(*nov) == (datetime(2026, 10, 1, tzinfo=UTC), nov[0])
    assert period_label(*nov) == "November 2026"
    assert period_label(*last_quarter(now)) == "2026 Q3"
    a, b = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)
    assert previous_period(a, b) == (datetime(2026, 10, 27, tzinfo=UTC), a)
    assert period_label(a, b) == "2026-11-03 – 2026-11-09"
    with pytest.raises(ValueError):
        previous_period(b, a)

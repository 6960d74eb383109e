"""Capacity forecasts: a least-squares line through a daily series and the day it crosses a limit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

Outlook = Literal["crossed", "crosses", "never", "unknown"]

#: Fewer points than this give no forecast: two points always fit a line exactly.
MIN_POINTS = 3
#: A crossing further away than this is reported as "not within the horizon" (~5 years).
HORIZON = timedelta(days=5 * 365)


@dataclass(frozen=True)
class LinearFit:
    """value ~= intercept + slope_per_day x (days since ``origin``); r2 in [0, 1]."""

    origin: datetime
    slope_per_day: float
    intercept: float
    r2: float
    points: int

    def value_at(self, moment: datetime) -> float:
        days = (moment - self.origin).total_seconds() / 86_400.0
        return self.intercept + self.slope_per_day * days


@dataclass(frozen=True)
class Forecast:
    """When one metric reaches its threshold at its current linear trend.

    outlook: "crossed" (the latest value is already at or over the threshold; crosses_on is
    the day the latest unbroken run at or over it began), "crosses" (crosses_on is the day the
    trend line reaches it), "never" (flat or falling, or beyond
    the horizon), "unknown" (not enough data). latest: the newest observed value.
    """

    metric: str
    unit: str
    threshold: float
    latest: float | None
    slope_per_day: float | None
    outlook: Outlook
    crosses_on: date | None
    points: int

    def sentence(self) -> str:
        """The forecast in words, e.g. "disk reaches 80 % around 2027-03-04"."""
        limit = f"{self.threshold:g}{' ' if self.unit else ''}{self.unit}"
        if self.outlook == "unknown":
            return f"{self.metric}: not enough data for a forecast ({self.points} days recorded)"
        if self.outlook == "crossed":
            since = f" (since {self.crosses_on.isoformat()})" if self.crosses_on else ""
            return f"{self.metric} is already at or above {limit}{since}"
        if self.outlook == "never" or self.crosses_on is None:
            return f"{self.metric} does not reach {limit} at the current trend"
        return f"{self.metric} reaches {limit} around {self.crosses_on.isoformat()}"


def fit_linear(points: Sequence[tuple[datetime, float]]) -> LinearFit | None:
    """Ordinary least squares over (time, value); None below MIN_POINTS or with one instant."""
    clean = [(t, v) for t, v in points if v is not None and math.isfinite(v)]
    if len(clean) < MIN_POINTS:
        return None
    origin = min(t for t, _ in clean)
    xs = [(t - origin).total_seconds() / 86_400.0 for t, _ in clean]
    ys = [v for _, v in clean]
    n = float(len(xs))
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    syy = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1.0 if syy == 0 else max(0.0, 1.0 - ss_res / syy)
    return LinearFit(origin, slope, intercept, r2, len(clean))


def forecast_crossing(
    metric: str,
    points: Sequence[tuple[datetime, float]],
    *,
    threshold: float,
    now: datetime,
    unit: str = "%",
) -> Forecast:
    """The day the linear trend of ``points`` reaches ``threshold`` (rising metrics)."""
    ordered = sorted((p for p in points if p[1] is not None), key=lambda p: p[0])
    latest = ordered[-1][1] if ordered else None
    fit = fit_linear(ordered)
    if fit is None:
        return Forecast(metric, unit, threshold, latest, None, "unknown", None, len(ordered))
    if latest is not None and latest >= threshold:
        # The day the latest unbroken run at or over the threshold began: said plainly.
        since = ordered[-1][0]
        for t, v in reversed(ordered):
            if v < threshold:
                break
            since = t
        return Forecast(
            metric, unit, threshold, latest, fit.slope_per_day, "crossed", since.date(), fit.points
        )
    if fit.slope_per_day <= 0:
        return Forecast(
            metric, unit, threshold, latest, fit.slope_per_day, "never", None, fit.points
        )
    days = (threshold - fit.intercept) / fit.slope_per_day
    when = fit.origin + timedelta(days=days)
    # The line may already be past the threshold while the latest point is not: then it is
    # reached about now, never in the past.
    when = max(when, now)
    if when - now > HORIZON:
        return Forecast(
            metric, unit, threshold, latest, fit.slope_per_day, "never", None, fit.points
        )
    return Forecast(
        metric, unit, threshold, latest, fit.slope_per_day, "crosses", when.date(), fit.points
    )

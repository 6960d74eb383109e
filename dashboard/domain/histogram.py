"""Latency histograms with fixed bucket bounds; percentiles as Prometheus' histogram_quantile."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final

BUCKET_BOUNDS_MS: Final[tuple[float, ...]] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    math.inf,
)
#: Database columns holding NON-cumulative counts, in bound order.
BUCKET_COLUMNS: Final[tuple[str, ...]] = (
    "b5",
    "b10",
    "b25",
    "b50",
    "b100",
    "b250",
    "b500",
    "b1000",
    "b2500",
    "b5000",
    "b10000",
    "binf",
)
HIGHEST_FINITE_MS: Final[float] = 10000.0


def bucket_index(latency_ms: float) -> int:
    """The bucket a latency falls in; bounds are inclusive upper limits (``le``)."""
    if latency_ms < 0 or math.isnan(latency_ms):
        raise ValueError(f"latency must be a non-negative number, got {latency_ms}")
    for i, bound in enumerate(BUCKET_BOUNDS_MS):
        if latency_ms <= bound:
            return i
    return len(BUCKET_BOUNDS_MS) - 1  # unreachable: the last bound is +Inf


def merge(histograms: Iterable[Sequence[float]]) -> list[float]:
    """Element-wise sum of histograms (bucket counts in bound order)."""
    total = [0.0] * len(BUCKET_BOUNDS_MS)
    for hist in histograms:
        _validate(hist)
        for i, count in enumerate(hist):
            total[i] += count
    return total


def _validate(counts: Sequence[float]) -> None:
    if len(counts) != len(BUCKET_BOUNDS_MS):
        raise ValueError(f"a histogram has {len(BUCKET_BOUNDS_MS)} buckets, got {len(counts)}")
    if any(c < 0 for c in counts):
        raise ValueError("bucket counts cannot be negative")


def histogram_quantile(q: float, counts: Sequence[float]) -> float | None:
    """The q-quantile in ms from NON-cumulative bucket counts, or None when there are none.

    Same rule as Prometheus: find the bucket holding rank q * total, interpolate linearly
    between its lower and upper bound (the first bucket starts at 0); a rank in the +Inf
    bucket answers the highest finite bound, since nothing better is known.
    """
    if not 0.0 <= q <= 1.0 or math.isnan(q):
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    _validate(counts)
    total = float(sum(counts))
    if total == 0:
        return None
    rank = q * total
    cumulative = 0.0
    for i, count in enumerate(counts):
        previous = cumulative
        cumulative += count
        if cumulative >= rank and count > 0:
            upper = BUCKET_BOUNDS_MS[i]
            if math.isinf(upper):
                return HIGHEST_FINITE_MS
            lower = 0.0 if i == 0 else BUCKET_BOUNDS_MS[i - 1]
            return lower + (upper - lower) * ((rank - previous) / count)
    return HIGHEST_FINITE_MS  # rank beyond the total cannot happen for q <= 1

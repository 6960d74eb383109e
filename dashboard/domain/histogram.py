"""Latency histograms with fixed bucket bounds; percentiles as Prometheus' histogram_quantile."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Final

#: Inclusive upper bounds (``le``) of the latency buckets in ms, fixed by DOMAIN.md. Fixed
#: bounds are what make histograms mergeable: any time range is answered by summing rows.
BUCKET_BOUNDS_MS: Final[tuple[float, ...]] = (
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    math.inf,
)
#: Database columns holding NON-cumulative counts, in the order of BUCKET_BOUNDS_MS.
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
#: What a quantile in the +Inf bucket answers: nothing is known beyond the last finite bound.
HIGHEST_FINITE_MS: Final[float] = BUCKET_BOUNDS_MS[-2]
BUCKET_COUNT: Final[int] = len(BUCKET_BOUNDS_MS)


def bucket_index(latency_ms: float) -> int:
    """Index of the bucket a latency falls in; a bound belongs to its own bucket (``le``)."""
    if math.isnan(latency_ms) or latency_ms < 0:
        raise ValueError(f"latency must be a non-negative number of ms, got {latency_ms}")
    for i, bound in enumerate(BUCKET_BOUNDS_MS):
        if latency_ms <= bound:
            return i
    raise AssertionError("unreachable: the last bound is +Inf")  # pragma: no cover


def _validate(counts: Sequence[float]) -> None:
    if len(counts) != BUCKET_COUNT:
        raise ValueError(f"a histogram has {BUCKET_COUNT} buckets, got {len(counts)}")
    for i, count in enumerate(counts):
        # `not count >= 0` also rejects NaN, which would poison every sum downstream.
        if not count >= 0:
            raise ValueError(f"bucket counts cannot be negative or NaN (bucket {i}: {count})")


def merge(histograms: Iterable[Sequence[float]]) -> list[float]:
    """Element-wise sum of histograms (non-cumulative counts in bound order); zeros if none."""
    total = [0.0] * BUCKET_COUNT
    for hist in histograms:
        _validate(hist)
        for i, count in enumerate(hist):
            total[i] += count
    return total


def histogram_quantile(q: float, counts: Sequence[float]) -> float | None:
    """The q-quantile in ms from NON-cumulative bucket counts; None when there is no sample.

    The rule is Prometheus' ``histogram_quantile``: find the first bucket whose cumulative
    count reaches rank = q x total and interpolate linearly between its lower bound (0 for
    the first bucket) and its upper bound. A rank in the +Inf bucket answers the highest
    finite bound (10,000 ms) since nothing better is known.

    One deliberate difference: empty buckets are skipped, so q = 0 gives the lower bound of
    the first non-empty bucket where Prometheus would divide 0 by 0 on an empty first bucket.
    """
    if not 0.0 <= q <= 1.0:  # also rejects NaN
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    _validate(counts)
    cumulative = list(accumulate(float(c) for c in counts))
    # The total is the running sum itself (not sum()), so rank <= total holds exactly even
    # where sum() compensates rounding (Python 3.12+) and the search always ends in a bucket.
    total = cumulative[-1]
    if total == 0:
        return None
    rank = q * total
    previous = 0.0
    for i, running in enumerate(cumulative):
        count = running - previous
        if count > 0 and running >= rank:
            upper = BUCKET_BOUNDS_MS[i]
            if math.isinf(upper):
                return HIGHEST_FINITE_MS
            lower = 0.0 if i == 0 else BUCKET_BOUNDS_MS[i - 1]
            # min(): rounding in (rank - previous) must not push the answer past the bound.
            return min(upper, lower + (upper - lower) * ((rank - previous) / count))
        previous = running
    raise AssertionError("unreachable: rank <= total for q <= 1")  # pragma: no cover

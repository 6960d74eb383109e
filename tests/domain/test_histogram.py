"""Histogram percentiles against numpy on generated samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.domain.histogram import (
    BUCKET_BOUNDS_MS,
    bucket_index,
    histogram_quantile,
    merge,
)


def _bucketize(samples: np.ndarray) -> list[int]:
    counts = [0] * len(BUCKET_BOUNDS_MS)
    for value in samples:
        counts[bucket_index(float(value))] += 1
    return counts


def _bucket_bounds(value: float) -> tuple[float, float]:
    i = bucket_index(value)
    return (0.0 if i == 0 else BUCKET_BOUNDS_MS[i - 1], BUCKET_BOUNDS_MS[i])


@pytest.mark.parametrize(
    "name",
    ["lognormal", "uniform", "bimodal", "exponential"],
)
def test_quantiles_fall_in_numpys_bucket(name: str) -> None:
    rng = np.random.default_rng(1234)
    samples = {
        "lognormal": rng.lognormal(mean=4.0, sigma=0.8, size=20_000),
        "uniform": rng.uniform(100, 250, size=20_000),
        "bimodal": np.concatenate([rng.normal(20, 3, 15_000), rng.normal(800, 100, 5_000)]),
        "exponential": rng.exponential(120, size=20_000),
    }[name].clip(0.01, None)
    counts = _bucketize(samples)
    for q in (0.5, 0.95, 0.99):
        truth = float(np.percentile(samples, q * 100))
        got = histogram_quantile(q, counts)
        assert got is not None
        low, high = _bucket_bounds(truth)
        # Interpolation stays in the bucket that holds the true value (ties at bounds allowed).
        assert low - 1e-9 <= got <= high + 1e-9, (name, q, truth, got)


def test_uniform_within_one_bucket_interpolates_closely() -> None:
    rng = np.random.default_rng(7)
    samples = rng.uniform(100.0001, 250, size=50_000)
    counts = _bucketize(samples)
    assert counts[BUCKET_BOUNDS_MS.index(250)] == 50_000
    for q in (0.5, 0.95, 0.99):
        truth = float(np.percentile(samples, q * 100))
        got = histogram_quantile(q, counts)
        assert got == pytest.approx(truth, rel=0.01)


def test_hand_computed_value() -> None:
    counts = [0] * 12
    counts[0], counts[1] = 50, 50  # 50 in (0,5], 50 in (5,10]
    assert histogram_quantile(0.5, counts) == pytest.approx(5.0)
    assert histogram_quantile(0.75, counts) == pytest.approx(7.5)
    assert histogram_quantile(0.0, counts) == pytest.approx(0.0)
    assert histogram_quantile(1.0, counts) == pytest.approx(10.0)


def test_empty_and_inf_bucket() -> None:
    assert histogram_quantile(0.99, [0] * 12) is None
    only_inf = [0] * 11 + [10]
    assert histogram_quantile(0.5, only_inf) == 10000.0


def test_bucket_index_edges() -> None:
    assert bucket_index(0) == 0
    assert bucket_index(5) == 0
    assert bucket_index(5.0001) == 1
    assert bucket_index(10000) == 10
    assert bucket_index(10_000.5) == 11
    with pytest.raises(ValueError):
        bucket_index(-1)
    with pytest.raises(ValueError):
        bucket_index(math.nan)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="quantile"):
        histogram_quantile(1.5, [1] * 12)
    with pytest.raises(ValueError, match="buckets"):
        histogram_quantile(0.5, [1] * 3)
    with pytest.raises(ValueError, match="negative"):
        histogram_quantile(0.5, [-1] + [1] * 11)


def test_merge() -> None:
    a = [1] * 12
    b = list(range(12))
    assert merge([a, b]) == [1 + i for i in range(12)]
    assert merge([]) == [0.0] * 12

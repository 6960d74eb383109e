"""Histogram percentiles checked against numpy on generated samples, plus edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.domain.histogram import (
    BUCKET_BOUNDS_MS,
    BUCKET_COLUMNS,
    HIGHEST_FINITE_MS,
    bucket_index,
    histogram_quantile,
    merge,
)

BOUNDS = np.array(BUCKET_BOUNDS_MS)
QUANTILES = (0.5, 0.95, 0.99)


def _samples(name: str) -> np.ndarray:
    rng = np.random.default_rng({"lognormal": 11, "uniform": 22, "bimodal": 33, "pareto": 44}[name])
    if name == "lognormal":  # the usual shape of request latencies: median ~ 55 ms
        return rng.lognormal(mean=4.0, sigma=0.9, size=40_000)
    if name == "uniform":
        return rng.uniform(0.0, 1000.0, size=40_000)
    if name == "bimodal":  # cache hits around 8 ms, misses around 700 ms
        return np.concatenate([rng.normal(8, 2, 30_000), rng.normal(700, 120, 10_000)]).clip(0)
    # heavy tail: a few percent of the samples land beyond 10 s, in the +Inf bucket
    return (rng.pareto(0.9, size=40_000) + 1) * 100.0  # Pareto, x_min 100 ms: p99 > 10 s


def _bucketize(samples: np.ndarray) -> list[int]:
    # searchsorted(side="left") finds the first bound >= x: the `le` rule of bucket_index.
    idx = np.searchsorted(BOUNDS, samples, side="left")
    return [int(c) for c in np.bincount(idx, minlength=len(BUCKET_BOUNDS_MS))]


def _bucket_of(value: float) -> tuple[float, float]:
    i = bucket_index(value)
    return (0.0 if i == 0 else BUCKET_BOUNDS_MS[i - 1], BUCKET_BOUNDS_MS[i])


def test_numpy_bucketing_matches_bucket_index() -> None:
    samples = _samples("lognormal")[:2000]
    expected = [0] * len(BUCKET_BOUNDS_MS)
    for value in samples:
        expected[bucket_index(float(value))] += 1
    assert _bucketize(samples) == expected
    # Bounds themselves go to their own bucket with both methods.
    assert _bucketize(np.array(BUCKET_BOUNDS_MS[:-1])) == [1] * 11 + [0]


@pytest.mark.parametrize("name", ["lognormal", "uniform", "bimodal", "pareto"])
@pytest.mark.parametrize("q", QUANTILES)
def test_quantile_lies_in_the_bucket_of_numpys_percentile(name: str, q: float) -> None:
    samples = _samples(name)
    got = histogram_quantile(q, _bucketize(samples))
    assert got is not None
    # "inverted_cdf" is the smallest sample with rank >= q x n: exactly the sample whose
    # bucket histogram_quantile interpolates in, so the check is exact, not statistical.
    truth = float(np.percentile(samples, q * 100, method="inverted_cdf"))
    low, high = _bucket_of(truth)
    if math.isinf(high):
        assert got == HIGHEST_FINITE_MS
    else:
        assert low <= got <= high, (name, q, truth, got)


def test_pareto_p99_is_in_the_inf_bucket() -> None:
    # Makes the +Inf branch of the parametrised test above a real case, not a dead one.
    samples = _samples("pareto")
    assert np.percentile(samples, 99) > 10_000
    assert histogram_quantile(0.99, _bucketize(samples)) == 10_000.0
    assert 100 < histogram_quantile(0.5, _bucketize(samples)) <= 250  # type: ignore[operator]


def test_uniform_samples_interpolate_close_to_numpy() -> None:
    # Linear interpolation assumes a uniform spread inside a bucket; with uniform samples it
    # should land within about 1 % of numpy's value, both inside one bucket and across several.
    rng = np.random.default_rng(7)
    inside = rng.uniform(100.0, 250.0, size=50_000)  # all in (100, 250]
    counts = _bucketize(inside)
    assert counts[5] == 50_000
    for q in QUANTILES:
        got = histogram_quantile(q, counts)
        assert got == pytest.approx(np.percentile(inside, q * 100), abs=1.5)
        assert got == pytest.approx(100 + 150 * q, abs=1e-9)  # exact rank arithmetic
    across = _samples("uniform")  # 0..1000 ms, filling eight buckets exactly
    for q in QUANTILES:
        assert histogram_quantile(q, _bucketize(across)) == pytest.approx(
            np.percentile(across, q * 100), rel=0.01
        )


def test_hand_computed_values() -> None:
    counts = [0] * 12
    counts[4], counts[5] = 10, 30  # 10 in (50, 100], 30 in (100, 250]
    # rank 20 is the 10th of 30 samples in (100, 250]: 100 + 150 x 10/30
    assert histogram_quantile(0.5, counts) == pytest.approx(150.0)
    assert histogram_quantile(0.25, counts) == pytest.approx(100.0)  # rank 10: top of (50, 100]
    assert histogram_quantile(0.125, counts) == pytest.approx(75.0)
    assert histogram_quantile(0.0, counts) == pytest.approx(50.0)  # first non-empty bucket
    assert histogram_quantile(1.0, counts) == pytest.approx(250.0)  # top of last non-empty
    counts[0] = 40  # the first bucket starts at 0 ms
    assert histogram_quantile(0.25, counts) == pytest.approx(2.5)
    assert histogram_quantile(0.0, counts) == 0.0


def test_merged_float_counts() -> None:
    # Rollups may hand back float counts; merging two halves answers like the whole.
    samples = _samples("bimodal")
    whole = _bucketize(samples)
    merged = merge([_bucketize(samples[:15_000]), [float(c) for c in _bucketize(samples[15_000:])]])
    assert merged == [float(c) for c in whole]
    for q in QUANTILES:
        assert histogram_quantile(q, merged) == pytest.approx(histogram_quantile(q, whole))


def test_quantiles_never_decrease_with_q() -> None:
    samples = _samples("lognormal")
    counts = _bucketize(samples)
    values = [histogram_quantile(q / 100, counts) for q in range(101)]
    assert all(v is not None for v in values)
    assert values == sorted(values)  # type: ignore[type-var]
    # q = 0 and q = 1 give the outer bounds of the buckets holding the extreme samples.
    assert values[0] == _bucket_of(float(samples.min()))[0] == 0.0
    assert values[-1] == _bucket_of(float(samples.max()))[1] == 5000.0


def test_empty_histogram_has_no_quantile() -> None:
    assert histogram_quantile(0.5, [0] * 12) is None
    assert histogram_quantile(0.0, [0.0] * 12) is None


@pytest.mark.parametrize("q", [0.0, 0.5, 0.99, 1.0])
def test_everything_in_the_inf_bucket_answers_the_highest_finite_bound(q: float) -> None:
    assert histogram_quantile(q, [0] * 11 + [7]) == 10_000.0


def test_bucket_index_edges() -> None:
    assert bucket_index(0) == 0
    assert bucket_index(5) == 0  # a bound belongs to its own bucket
    assert bucket_index(5.0001) == 1
    assert bucket_index(250) == 5
    assert bucket_index(10_000) == 10
    assert bucket_index(10_000.5) == 11
    assert bucket_index(math.inf) == 11
    with pytest.raises(ValueError, match="non-negative"):
        bucket_index(-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        bucket_index(math.nan)


def test_bounds_and_columns() -> None:
    assert len(BUCKET_BOUNDS_MS) == len(BUCKET_COLUMNS) == 12
    assert list(BUCKET_BOUNDS_MS) == sorted(BUCKET_BOUNDS_MS)
    assert BUCKET_BOUNDS_MS[0] == 5 and BUCKET_BOUNDS_MS[-2] == 10_000
    assert math.isinf(BUCKET_BOUNDS_MS[-1])
    # Column names follow their bound, so a column can never drift from its bucket.
    assert BUCKET_COLUMNS[:-1] == tuple(f"b{int(b)}" for b in BUCKET_BOUNDS_MS[:-1])
    assert BUCKET_COLUMNS[-1] == "binf"


@pytest.mark.parametrize("q", [-0.01, 1.01, math.nan])
def test_quantile_outside_0_1_is_rejected(q: float) -> None:
    with pytest.raises(ValueError, match="quantile"):
        histogram_quantile(q, [1] * 12)


@pytest.mark.parametrize("length", [0, 11, 13])
def test_wrong_number_of_buckets_is_rejected(length: int) -> None:
    with pytest.raises(ValueError, match="12 buckets"):
        histogram_quantile(0.5, [1] * length)
    with pytest.raises(ValueError, match="12 buckets"):
        merge([[1] * 12, [1] * length])


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_negative_or_nan_counts_are_rejected(bad: float) -> None:
    counts = [1.0] * 12
    counts[3] = bad
    with pytest.raises(ValueError, match="negative"):
        histogram_quantile(0.5, counts)
    with pytest.raises(ValueError, match="negative"):
        merge([counts])


def test_merge() -> None:
    assert merge([[1] * 12, list(range(12))]) == [float(1 + i) for i in range(12)]
    assert merge([]) == [0.0] * 12
    assert merge(iter([[2] * 12])) == [2.0] * 12  # any iterable, e.g. a generator of rows

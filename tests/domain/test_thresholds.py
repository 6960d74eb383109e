"""The guide's thresholds and the ok / warn / critical classifier, boundaries included."""

from __future__ import annotations

import math

import pytest

from dashboard.domain import thresholds as th
from dashboard.domain.kpi import trust_band


def test_constants_are_the_guides() -> None:
    assert (th.P99_LATENCY_MS, th.ERROR_RATE_WARN_PCT, th.ERROR_RATE_CRIT_PCT) == (500, 1, 5)
    assert (th.TRUST_SCORE_CRITICAL, th.TRUST_SCORE_WATCH, th.TRUST_SCORE_TARGET) == (50, 70, 75)
    assert (th.SYNC_LAG_HEALTHY_S, th.SYNC_LAG_ALERT_S) == (60, 300)
    assert (th.DRIFT_RATE_HEALTHY_PCT, th.DRIFT_RATE_ALERT_PCT) == (10, 15)
    assert (th.CPU_PCT, th.MEMORY_PCT, th.DISK_PCT, th.DB_CONNECTIONS_PCT_OF_POOL) == (
        80,
        85,
        80,
        80,
    )
    assert th.VIOLATIONS_PER_DAY_REVIEW == 5
    assert th.TARGET_TRUST_SCORE == 75
    assert th.TARGET_SYNC_FRESHNESS_PCT == 95
    assert th.TARGET_DRIFT_RATE_PCT == 10
    assert th.TARGET_COMPLIANCE_SLA_PCT == 95


# (metric, value, expected): below, at and above each limit. Healthy limits include their
# boundary, alert limits are strict ("> 5 %", "below 50").
CASES = [
    ("p99_latency_ms", 120, "ok"),
    ("p99_latency_ms", 500, "ok"),
    ("p99_latency_ms", 500.1, "warn"),
    ("p99_latency_ms", 1000, "warn"),
    ("p99_latency_ms", 1000.1, "critical"),
    ("error_rate_pct", 0, "ok"),
    ("error_rate_pct", 1, "ok"),
    ("error_rate_pct", 1.01, "warn"),
    ("error_rate_pct", 5, "warn"),
    ("error_rate_pct", 5.01, "critical"),
    ("trust_score", 90, "ok"),
    ("trust_score", 70, "ok"),
    ("trust_score", 69.9, "warn"),
    ("trust_score", 50, "warn"),
    ("trust_score", 49.9, "critical"),
    ("sync_lag_s", 0, "ok"),
    ("sync_lag_s", 60, "ok"),
    ("sync_lag_s", 61, "warn"),
    ("sync_lag_s", 300, "warn"),
    ("sync_lag_s", 301, "critical"),
    ("drift_rate_pct", 10, "ok"),
    ("drift_rate_pct", 12, "warn"),
    ("drift_rate_pct", 15, "warn"),
    ("drift_rate_pct", 15.5, "critical"),
    ("cpu_pct", 80, "ok"),
    ("cpu_pct", 81, "warn"),
    ("cpu_pct", 96, "critical"),
    ("memory_pct", 84, "ok"),
    ("memory_pct", 86, "warn"),  # memory's healthy limit is 85, not CPU's 80
    ("memory_pct", 95.5, "critical"),
    ("disk_pct", 79, "ok"),
    ("disk_pct", 85, "warn"),
    ("disk_pct", 91, "critical"),
    ("db_conn_pct", 80, "ok"),
    ("db_conn_pct", 90, "warn"),
    ("db_conn_pct", 99, "critical"),
    ("violations_per_day", 4.9, "ok"),
    ("violations_per_day", 5, "warn"),  # DOMAIN.md: review policies at >= 5/day
    ("violations_per_day", 500, "warn"),  # a review is due; never a page
    ("sync_freshness_pct", 100, "ok"),
    ("sync_freshness_pct", 95, "ok"),
    ("sync_freshness_pct", 94.9, "warn"),
    ("sync_freshness_pct", 80, "warn"),
    ("sync_freshness_pct", 79.9, "critical"),
    ("compliance_sla_pct", 95, "ok"),
    ("compliance_sla_pct", 90, "warn"),
    ("compliance_sla_pct", 10, "critical"),
]


@pytest.mark.parametrize(("metric", "value", "expected"), CASES)
def test_level(metric: str, value: float, expected: str) -> None:
    assert th.level(metric, value) == expected


def test_every_metric_is_tested() -> None:
    assert {metric for metric, _, _ in CASES} == set(th.METRICS)


def test_trust_levels_follow_the_trust_bands() -> None:
    # One vocabulary: excellent / good / watch are ok, "at risk" warns, "critical" is critical.
    expected = {"excellent": "ok", "good": "ok", "watch": "ok", "at risk": "warn"}
    for tenths in range(0, 1001):
        score = tenths / 10
        assert th.level("trust_score", score) == expected.get(trust_band(score), "critical")


def test_no_value_gives_no_level() -> None:
    assert th.level("cpu_pct", None) is None


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="no threshold for metric 'vibes'"):
        th.level("vibes", 1)
    with pytest.raises(ValueError, match="no threshold"):
        th.level("vibes", None)  # a typo must not hide behind missing data
    with pytest.raises(ValueError, match="NaN"):
        th.level("cpu_pct", math.nan)


def test_rules_are_consistent() -> None:
    for rule in th.RULES.values():
        if rule.critical is not None:
            assert (
                rule.critical >= rule.warn
            ) == rule.higher_is_worse or rule.critical == rule.warn
    with pytest.raises(ValueError, match="milder"):
        th.Rule(warn=80, critical=70)
    with pytest.raises(ValueError, match="milder"):
        th.Rule(warn=50, critical=70, higher_is_worse=False)
    with pytest.raises(TypeError):
        th.RULES["cpu_pct"] = th.Rule(1, 2)  # type: ignore[index]

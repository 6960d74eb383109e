"""The guide's metric thresholds and the KPI targets, with one classifier for them all."""

from __future__ import annotations

from typing import Final, Literal

Level = Literal["ok", "warn", "critical"]

P99_LATENCY_MS: Final = 500.0
ERROR_RATE_WARN_PCT: Final = 1.0
ERROR_RATE_CRIT_PCT: Final = 5.0
TRUST_SCORE_WATCH: Final = 70.0
TRUST_SCORE_TARGET: Final = 75.0
TRUST_SCORE_CRITICAL: Final = 50.0
SYNC_LAG_HEALTHY_S: Final = 60.0
SYNC_LAG_ALERT_S: Final = 300.0
DRIFT_RATE_HEALTHY_PCT: Final = 10.0
DRIFT_RATE_ALERT_PCT: Final = 15.0
CPU_PCT: Final = 80.0
MEMORY_PCT: Final = 85.0
DISK_PCT: Final = 80.0
DB_CONNECTIONS_PCT_OF_POOL: Final = 80.0
VIOLATIONS_PER_DAY_REVIEW: Final = 5.0

# KPI targets shown on the tiles (sync freshness and compliance targets are choices).
TARGET_TRUST_SCORE: Final = TRUST_SCORE_TARGET
TARGET_SYNC_FRESHNESS_PCT: Final = 95.0
TARGET_DRIFT_RATE_PCT: Final = DRIFT_RATE_HEALTHY_PCT  # at most
TARGET_COMPLIANCE_SLA_PCT: Final = 95.0

# metric -> (warn at, critical at, higher_is_worse)
_RULES: Final[dict[str, tuple[float, float, bool]]] = {
    "p99_latency_ms": (P99_LATENCY_MS, 2 * P99_LATENCY_MS, True),
    "error_rate_pct": (ERROR_RATE_WARN_PCT, ERROR_RATE_CRIT_PCT, True),
    "trust_score": (TRUST_SCORE_WATCH, TRUST_SCORE_CRITICAL, False),
    "sync_lag_s": (SYNC_LAG_HEALTHY_S, SYNC_LAG_ALERT_S, True),
    "drift_rate_pct": (DRIFT_RATE_HEALTHY_PCT, DRIFT_RATE_ALERT_PCT, True),
    "cpu_pct": (CPU_PCT, 95.0, True),
    "memory_pct": (MEMORY_PCT, 95.0, True),
    "disk_pct": (DISK_PCT, 90.0, True),
    "db_conn_pct": (DB_CONNECTIONS_PCT_OF_POOL, 95.0, True),
    "sync_freshness_pct": (TARGET_SYNC_FRESHNESS_PCT, 80.0, False),
    "compliance_sla_pct": (TARGET_COMPLIANCE_SLA_PCT, 80.0, False),
}

METRICS: Final = tuple(_RULES)


def level(metric: str, value: float | None) -> Level | None:
    """ok / warn / critical for a metric value (None for no value).

    Higher-is-worse metrics warn above the healthy threshold and are critical above the alert
    one; lower-is-worse metrics (trust, freshness, SLA) the other way round.
    """
    try:
        warn, crit, higher_is_worse = _RULES[metric]
    except KeyError:
        raise ValueError(f"no threshold for metric {metric!r}") from None
    if value is None:
        return None
    if higher_is_worse:
        if value > crit:
            return "critical"
        return "warn" if value > warn else "ok"
    if value < crit:
        return "critical"
    return "warn" if value < warn else "ok"

"""The guide's metric thresholds and the KPI targets, with one classifier for them all."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, overload

Level = Literal["ok", "warn", "critical"]

# --- Thresholds of ORCA_OPERATIONS_GUIDE.md (Monitoring and Alerting Rules) ---------------
P99_LATENCY_MS: Final = 500.0  # p99 < 500 ms, else investigate slow requests
ERROR_RATE_WARN_PCT: Final = 1.0  # < 1 % of requests
ERROR_RATE_CRIT_PCT: Final = 5.0  # P1 when > 5 % for > 5 min
TRUST_SCORE_WATCH: Final = 70.0  # metric threshold: > 70
TRUST_SCORE_TARGET: Final = 75.0  # business metric: > 75
TRUST_SCORE_CRITICAL: Final = 50.0  # P1 when it drops below 50
SYNC_LAG_HEALTHY_S: Final = 60.0  # < 60 s (the freshness SLO of dashboard.domain.kpi)
SYNC_LAG_ALERT_S: Final = 300.0  # P2 when > 5 min
DRIFT_RATE_HEALTHY_PCT: Final = 10.0  # < 10 %
DRIFT_RATE_ALERT_PCT: Final = 15.0  # P2 when > 15 %
CPU_PCT: Final = 80.0  # < 80 %; P2 when CPU or memory > 80 % for > 15 min
MEMORY_PCT: Final = 85.0  # < 85 %
DISK_PCT: Final = 80.0  # < 80 %
DB_CONNECTIONS_PCT_OF_POOL: Final = 80.0  # < 80 % of the pool
VIOLATIONS_PER_DAY_REVIEW: Final = 5.0  # review policies at >= 5 violations a day

# --- Critical levels the guide does not give *(choices)* ------------------------------------
# The guide names one threshold for these; a second, higher one lets a chart tell "over the
# line" from "about to fall over". Duration conditions ("for > 15 min") belong to alert rules,
# which see a series; this classifier sees one value.
P99_LATENCY_CRIT_MS: Final = 2 * P99_LATENCY_MS
CPU_CRIT_PCT: Final = 95.0
MEMORY_CRIT_PCT: Final = 95.0
DISK_CRIT_PCT: Final = 90.0
DB_CONNECTIONS_CRIT_PCT: Final = 95.0

# --- KPI targets shown on the tiles ------------------------------------------------------
TARGET_TRUST_SCORE: Final = TRUST_SCORE_TARGET
TARGET_SYNC_FRESHNESS_PCT: Final = 95.0  # *(choice)*
TARGET_DRIFT_RATE_PCT: Final = DRIFT_RATE_HEALTHY_PCT  # at most
TARGET_COMPLIANCE_SLA_PCT: Final = 95.0  # *(choice)*
SYNC_FRESHNESS_CRIT_PCT: Final = 80.0  # *(choice)*
COMPLIANCE_SLA_CRIT_PCT: Final = 80.0  # *(choice)*


@dataclass(frozen=True)
class Rule:
    """How one metric is classified.

    warn: the healthy limit; critical: the alert limit (None: the metric never goes critical);
    higher_is_worse: False for scores and shares (trust, freshness, SLA), which fall when bad;
    warn_inclusive: True when the value AT the healthy limit already warns.

    Healthy limits include their boundary by default, as the KPIs do (a lag of exactly 60 s
    is within the freshness SLO, a trust score of exactly 70 is in the "watch" band); alert
    limits are strict, as the guide writes them ("> 5 %", "below 50").
    """

    warn: float
    critical: float | None
    higher_is_worse: bool = True
    warn_inclusive: bool = False

    def __post_init__(self) -> None:
        if self.critical is not None:
            ordered = (
                self.critical >= self.warn if self.higher_is_worse else self.critical <= self.warn
            )
            if not ordered:
                raise ValueError(f"critical {self.critical} is milder than warn {self.warn}")


#: metric name -> rule. Trust levels line up with the trust bands of dashboard.domain.kpi:
#: excellent / good / watch are ok, "at risk" warns, "critical" is critical.
RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        "p99_latency_ms": Rule(P99_LATENCY_MS, P99_LATENCY_CRIT_MS),
        "error_rate_pct": Rule(ERROR_RATE_WARN_PCT, ERROR_RATE_CRIT_PCT),
        "trust_score": Rule(TRUST_SCORE_WATCH, TRUST_SCORE_CRITICAL, higher_is_worse=False),
        "sync_lag_s": Rule(SYNC_LAG_HEALTHY_S, SYNC_LAG_ALERT_S),
        "drift_rate_pct": Rule(DRIFT_RATE_HEALTHY_PCT, DRIFT_RATE_ALERT_PCT),
        "cpu_pct": Rule(CPU_PCT, CPU_CRIT_PCT),
        "memory_pct": Rule(MEMORY_PCT, MEMORY_CRIT_PCT),
        "disk_pct": Rule(DISK_PCT, DISK_CRIT_PCT),
        "db_conn_pct": Rule(DB_CONNECTIONS_PCT_OF_POOL, DB_CONNECTIONS_CRIT_PCT),
        # DOMAIN.md: "review policies when >= 5/day"; a review is due, nothing is on fire.
        "violations_per_day": Rule(VIOLATIONS_PER_DAY_REVIEW, None, warn_inclusive=True),
        "sync_freshness_pct": Rule(
            TARGET_SYNC_FRESHNESS_PCT, SYNC_FRESHNESS_CRIT_PCT, higher_is_worse=False
        ),
        "compliance_sla_pct": Rule(
            TARGET_COMPLIANCE_SLA_PCT, COMPLIANCE_SLA_CRIT_PCT, higher_is_worse=False
        ),
    }
)
METRICS: Final[tuple[str, ...]] = tuple(RULES)


def _past(value: float, limit: float, higher_is_worse: bool, inclusive: bool) -> bool:
    """Whether value has crossed limit in the bad direction."""
    if higher_is_worse:
        return value >= limit if inclusive else value > limit
    return value <= limit if inclusive else value < limit


@overload
def level(metric: str, value: float) -> Level: ...
@overload
def level(metric: str, value: None) -> None: ...
@overload
def level(metric: str, value: float | None) -> Level | None: ...
def level(metric: str, value: float | None) -> Level | None:
    """ok / warn / critical for one value of a metric of METRICS; None for no value.

    An unknown metric raises even without a value, so a typo cannot hide behind missing data.
    """
    try:
        rule = RULES[metric]
    except KeyError:
        raise ValueError(
            f"no threshold for metric {metric!r}; known metrics: {', '.join(METRICS)}"
        ) from None
    if value is None:
        return None
    if math.isnan(value):
        raise ValueError(f"{metric} value cannot be NaN")
    if rule.critical is not None and _past(value, rule.critical, rule.higher_is_worse, False):
        return "critical"
    if _past(value, rule.warn, rule.higher_is_worse, rule.warn_inclusive):
        return "warn"
    return "ok"

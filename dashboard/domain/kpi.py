"""The KPI formulas of DOMAIN.md as pure functions; every constant lives here, once."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from dashboard.domain.enums import ComplianceTier, Severity

# Agent trust score weights (a choice of DOMAIN.md; they sum to 1).
TRUST_WEIGHTS: Final[Mapping[str, float]] = {
    "reliability": 0.30,
    "policy_adherence": 0.30,
    "sync_freshness": 0.25,
    "risk": 0.15,
}
# Exposure by compliance tier: more controls, less exposure.
TIER_RISK: Final[Mapping[str, float]] = {
    ComplianceTier.NONE: 0.6,
    ComplianceTier.STANDARD: 0.4,
    ComplianceTier.HIGH: 0.2,
    ComplianceTier.CRITICAL: 0.1,
}
QUARANTINE_RISK_PENALTY: Final[float] = 0.5
# 20 x violation rate: a 5 % violation rate drives adherence to 0.
VIOLATION_RATE_FACTOR: Final[float] = 20.0
NO_TRAFFIC_RELIABILITY: Final[float] = 0.5
# Incident cost avoided by one blocked violation, USD, by severity.
SEVERITY_COST_USD: Final[Mapping[str, float]] = {
    Severity.LOW: 500.0,
    Severity.MEDIUM: 2_000.0,
    Severity.HIGH: 5_000.0,
    Severity.CRITICAL: 15_000.0,
}
# Compliance SLA: a violation must be resolved within its severity's deadline.
SLA_DEADLINES: Final[Mapping[str, timedelta]] = {
    Severity.CRITICAL: timedelta(hours=1),
    Severity.HIGH: timedelta(hours=4),
    Severity.MEDIUM: timedelta(hours=24),
    Severity.LOW: timedelta(days=7),
}
FRESHNESS_SLO_SECONDS: Final[int] = 60
TRUST_WINDOW: Final[timedelta] = timedelta(hours=24)
# Trust bands, best first: (lower bound, name).
TRUST_BANDS: Final[tuple[tuple[float, str], ...]] = (
    (85.0, "excellent"),
    (75.0, "good"),
    (70.0, "watch"),
    (50.0, "at risk"),
    (-math.inf, "critical"),
)


def _non_negative(**values: float) -> None:
    for name, value in values.items():
        if value < 0 or math.isnan(value):
            raise ValueError(f"{name} cannot be negative (got {value})")


def reliability(successes: float, errors: float) -> float:
    """successes / (successes + errors); 0.5 when there was no traffic."""
    _non_negative(successes=successes, errors=errors)
    total = successes + errors
    return NO_TRAFFIC_RELIABILITY if total == 0 else successes / total


def policy_adherence(violations: float, requests: float) -> float:
    """max(0, 1 - 20 x violations / requests); 1 when there was no traffic."""
    _non_negative(violations=violations, requests=requests)
    if requests == 0:
        return 1.0
    return max(0.0, 1.0 - VIOLATION_RATE_FACTOR * violations / requests)


def freshness(fresh_sources: float, total_sources: float) -> float:
    """Share of the agent's data sources within the freshness SLO; 1 with no sources."""
    _non_negative(fresh_sources=fresh_sources, total_sources=total_sources)
    if fresh_sources > total_sources:
        raise ValueError("fresh sources cannot exceed total sources")
    return 1.0 if total_sources == 0 else fresh_sources / total_sources


def risk_exposure(tier: str, quarantined: bool) -> float:
    """min(1, tier risk + 0.5 if quarantined)."""
    try:
        base = TIER_RISK[ComplianceTier(tier)]
    except ValueError:
        raise ValueError(f"unknown compliance tier {tier!r}") from None
    return min(1.0, base + (QUARANTINE_RISK_PENALTY if quarantined else 0.0))


def agent_trust_score(reliability: float, adherence: float, freshness: float, risk: float) -> float:
    """100 x (0.30 reliability + 0.30 adherence + 0.25 freshness + 0.15 (1 - risk))."""
    for name, value in (
        ("reliability", reliability),
        ("adherence", adherence),
        ("freshness", freshness),
        ("risk", risk),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value}")
    w = TRUST_WEIGHTS
    return 100.0 * (
        w["reliability"] * reliability
        + w["policy_adherence"] * adherence
        + w["sync_freshness"] * freshness
        + w["risk"] * (1.0 - risk)
    )


@dataclass(frozen=True)
class TrustComponents:
    """The four components of one agent's trust (each 0..1) and the score (0..100)."""

    reliability: float
    policy_adherence: float
    sync_freshness: float
    risk_exposure: float
    score: float


def compute_agent_trust(
    *,
    successes: float,
    errors: float,
    violations: float,
    requests: float,
    fresh_sources: float,
    total_sources: float,
    tier: str,
    quarantined: bool,
) -> TrustComponents:
    rel = reliability(successes, errors)
    adh = policy_adherence(violations, requests)
    fre = freshness(fresh_sources, total_sources)
    risk = risk_exposure(tier, quarantined)
    return TrustComponents(rel, adh, fre, risk, agent_trust_score(rel, adh, fre, risk))


def system_trust_score(active_agent_scores: Iterable[float]) -> float | None:
    """Mean trust score over active agents; None when there is no active agent."""
    scores = list(active_agent_scores)
    return None if not scores else sum(scores) / len(scores)


def trust_band(score: float | None) -> str | None:
    """excellent / good / watch / at risk / critical (None for no score)."""
    if score is None:
        return None
    for lower, name in TRUST_BANDS:
        if score >= lower:
            return name
    return TRUST_BANDS[-1][1]


def risk_avoided_usd(blocked_counts_by_severity: Mapping[str, int]) -> float:
    """Sum over blocked violations of the incident cost of their severity."""
    total = 0.0
    for severity, count in blocked_counts_by_severity.items():
        _non_negative(count=count)
        try:
            total += SEVERITY_COST_USD[Severity(severity)] * count
        except ValueError:
            raise ValueError(f"unknown severity {severity!r}") from None
    return total


def sync_freshness_percent(
    lags_seconds: Iterable[float | None], slo_s: float = FRESHNESS_SLO_SECONDS
) -> float:
    """Share of data sources whose lag is within the SLO; never synced (None) is stale."""
    lags = list(lags_seconds)
    if not lags:
        return 100.0
    fresh = sum(1 for lag in lags if lag is not None and lag <= slo_s)
    return 100.0 * fresh / len(lags)


def drift_rate_percent(active_with_unresolved_drift: int, active: int) -> float:
    """Share of active agents with an unresolved drift detection; 0 with no active agent."""
    _non_negative(drifting=active_with_unresolved_drift, active=active)
    if active_with_unresolved_drift > active:
        raise ValueError("drifting agents cannot exceed active agents")
    return 0.0 if active == 0 else 100.0 * active_with_unresolved_drift / active


def compliance_sla_percent(
    violations: Iterable[tuple[str, datetime, datetime | None]], now: datetime
) -> float:
    """Share of violations resolved within their severity's deadline.

    Open violations past their deadline are misses; open ones still within it are not
    counted yet. With nothing counted the SLA is met: 100.
    """
    met = missed = 0
    for severity, occurred_at, resolved_at in violations:
        deadline = occurred_at + SLA_DEADLINES[Severity(severity)]
        if resolved_at is not None:
            if resolved_at <= deadline:
                met += 1
            else:
                missed += 1
        elif now > deadline:
            missed += 1
    counted = met + missed
    return 100.0 if counted == 0 else 100.0 * met / counted


def error_rate_percent(errors: float, requests: float) -> float | None:
    _non_negative(errors=errors, requests=requests)
    return None if requests == 0 else 100.0 * errors / requests


def uptime_percent(up_checks: int, total_checks: int) -> float | None:
    _non_negative(up=up_checks, total=total_checks)
    return None if total_checks == 0 else 100.0 * up_checks / total_checks


def percent_change(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent; None when either side is missing or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return 100.0 * (current - previous) / abs(previous)


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float | None:
    total = sum(weights)
    if total == 0:
        return None
    return sum(v * w for v, w in zip(values, weights, strict=True)) / total

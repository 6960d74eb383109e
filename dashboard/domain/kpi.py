"""The KPI formulas of DOMAIN.md as pure functions; every KPI constant lives here, once."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, overload

from dashboard.domain.enums import ComplianceTier, Severity

# The mappings below are read-only views (MappingProxyType): they are shared by the SQL
# builders, the simulator and the pages, so nobody may tweak them at run time. Their keys are
# StrEnum members, which hash and compare like their values: ``TIER_RISK["none"]`` works.

#: Agent trust score weights *(choice of DOMAIN.md)*; they sum to 1 so the score is 0..100.
TRUST_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "reliability": 0.30,
        "policy_adherence": 0.30,
        "sync_freshness": 0.25,
        "risk": 0.15,  # applied to (1 - risk exposure): less exposure, more trust
    }
)
#: Risk exposure by compliance tier: a stricter tier has more controls, so less exposure.
TIER_RISK: Final[Mapping[str, float]] = MappingProxyType(
    {
        ComplianceTier.NONE: 0.6,
        ComplianceTier.STANDARD: 0.4,
        ComplianceTier.HIGH: 0.2,
        ComplianceTier.CRITICAL: 0.1,
    }
)
#: Added to the tier risk of a quarantined agent (the sum is capped at 1).
QUARANTINE_RISK_PENALTY: Final[float] = 0.5
#: Adherence falls by 20 x the violation rate, so a 5 % violation rate drives it to 0.
VIOLATION_RATE_FACTOR: Final[float] = 20.0
#: Reliability of an agent without traffic: no evidence either way.
NO_TRAFFIC_RELIABILITY: Final[float] = 0.5
#: Incident cost avoided by one blocked violation, in USD, by severity *(choice)*.
SEVERITY_COST_USD: Final[Mapping[str, float]] = MappingProxyType(
    {
        Severity.LOW: 500.0,
        Severity.MEDIUM: 2_000.0,
        Severity.HIGH: 5_000.0,
        Severity.CRITICAL: 15_000.0,
    }
)
#: Compliance SLA *(choice)*: a violation must be resolved within its severity's deadline.
SLA_DEADLINES: Final[Mapping[str, timedelta]] = MappingProxyType(
    {
        Severity.CRITICAL: timedelta(hours=1),
        Severity.HIGH: timedelta(hours=4),
        Severity.MEDIUM: timedelta(hours=24),
        Severity.LOW: timedelta(days=7),
    }
)
#: A data source is fresh while its sync lag is at most this many seconds.
FRESHNESS_SLO_SECONDS: Final[int] = 60
#: Default window over which an agent's trust components are measured.
TRUST_WINDOW: Final[timedelta] = timedelta(hours=24)
#: Trust bands, best first: (inclusive lower bound, name). 75 is the guide's business
#: target, 70 its metric threshold and below 50 its P1 alert.
TRUST_BANDS: Final[tuple[tuple[float, str], ...]] = (
    (85.0, "excellent"),
    (75.0, "good"),
    (70.0, "watch"),
    (50.0, "at risk"),
    (-math.inf, "critical"),
)


def _check_counts(**counts: float) -> None:
    for name, value in counts.items():
        # `not value >= 0` also rejects NaN, which would silently poison a KPI.
        if not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, got {value}")


def _check_part(part_name: str, part: float, whole_name: str, whole: float) -> None:
    _check_counts(**{part_name: part, whole_name: whole})
    if part > whole:
        raise ValueError(f"{part_name} ({part}) cannot exceed {whole_name} ({whole})")


def _check_unit(**values: float) -> None:
    for name, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value}")


def _tier(tier: ComplianceTier | str) -> ComplianceTier:
    try:
        return ComplianceTier(tier)
    except ValueError:
        raise ValueError(
            f"unknown compliance tier {tier!r}; expected one of {', '.join(ComplianceTier)}"
        ) from None


def _severity(severity: Severity | str) -> Severity:
    try:
        return Severity(severity)
    except ValueError:
        raise ValueError(
            f"unknown severity {severity!r}; expected one of {', '.join(Severity)}"
        ) from None


def reliability(successes: float, errors: float) -> float:
    """successes / (successes + errors), 0..1; 0.5 when there was no traffic."""
    _check_counts(successes=successes, errors=errors)
    total = successes + errors
    return NO_TRAFFIC_RELIABILITY if total == 0 else successes / total


def policy_adherence(violations: float, requests: float) -> float:
    """max(0, 1 - 20 x violations / requests), 0..1; 1 when there was no traffic."""
    _check_counts(violations=violations, requests=requests)
    if requests == 0:
        return 1.0
    return max(0.0, 1.0 - VIOLATION_RATE_FACTOR * violations / requests)


def freshness(fresh_sources: float, total_sources: float) -> float:
    """Share of the agent's data sources within the freshness SLO, 0..1; 1 with no sources."""
    _check_part("fresh_sources", fresh_sources, "total_sources", total_sources)
    return 1.0 if total_sources == 0 else fresh_sources / total_sources


def risk_exposure(tier: ComplianceTier | str, quarantined: bool) -> float:
    """min(1, tier risk + 0.5 if quarantined), 0..1."""
    penalty = QUARANTINE_RISK_PENALTY if quarantined else 0.0
    return min(1.0, TIER_RISK[_tier(tier)] + penalty)


def agent_trust_score(reliability: float, adherence: float, freshness: float, risk: float) -> float:
    """100 x (0.30 reliability + 0.30 adherence + 0.25 freshness + 0.15 (1 - risk)), 0..100."""
    _check_unit(reliability=reliability, adherence=adherence, freshness=freshness, risk=risk)
    w = TRUST_WEIGHTS
    return 100.0 * (
        w["reliability"] * reliability
        + w["policy_adherence"] * adherence
        + w["sync_freshness"] * freshness
        + w["risk"] * (1.0 - risk)
    )


@dataclass(frozen=True)
class TrustComponents:
    """One agent's trust over a window.

    reliability, policy_adherence, sync_freshness, risk_exposure: the components, each 0..1
    (risk_exposure counts against trust); score: the agent trust score, 0..100.
    """

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
    tier: ComplianceTier | str,
    quarantined: bool,
) -> TrustComponents:
    """All four components and the score from the raw counts of one agent's window."""
    rel = reliability(successes, errors)
    adh = policy_adherence(violations, requests)
    fre = freshness(fresh_sources, total_sources)
    risk = risk_exposure(tier, quarantined)
    return TrustComponents(rel, adh, fre, risk, agent_trust_score(rel, adh, fre, risk))


def system_trust_score(active_agent_scores: Iterable[float]) -> float | None:
    """Mean trust score over the active agents; None when there is no active agent."""
    scores = list(active_agent_scores)
    for score in scores:
        if not 0.0 <= score <= 100.0:
            raise ValueError(f"an agent trust score must be within [0, 100], got {score}")
    return sum(scores) / len(scores) if scores else None


@overload
def trust_band(score: float) -> str: ...
@overload
def trust_band(score: None) -> None: ...
@overload
def trust_band(score: float | None) -> str | None: ...
def trust_band(score: float | None) -> str | None:
    """excellent / good / watch / at risk / critical; None for no score (no active agent)."""
    if score is None:
        return None
    if math.isnan(score):
        raise ValueError("a trust score cannot be NaN")
    # The last band's bound is -inf, so every number finds its band.
    return next(name for lower, name in TRUST_BANDS if score >= lower)


def risk_avoided_usd(blocked_counts_by_severity: Mapping[str, int]) -> float:
    """Sum over blocked violations of the incident cost of their severity, in USD."""
    total = 0.0
    for severity, count in blocked_counts_by_severity.items():
        _check_counts(**{f"blocked count of {severity!s}": count})
        total += SEVERITY_COST_USD[_severity(severity)] * count
    return total


def sync_freshness_percent(
    lags_seconds: Iterable[float | None], slo: float = FRESHNESS_SLO_SECONDS
) -> float:
    """Share of data sources whose lag is within the SLO (lag <= slo), 0..100; 100 with none.

    A None lag means the source never synced: it counts as stale. A negative lag (clock skew
    put the last sync a moment after "now") counts as fresh: it synced no earlier than now.
    """
    _check_counts(slo=slo)
    total = fresh = 0
    for lag in lags_seconds:
        total += 1
        if lag is None:
            continue
        if math.isnan(lag):
            raise ValueError("a sync lag cannot be NaN (use None for a source never synced)")
        if lag <= slo:
            fresh += 1
    return 100.0 if total == 0 else 100.0 * fresh / total


def drift_rate_percent(active_with_unresolved_drift: int, active: int) -> float:
    """Share of active agents with an unresolved drift detection, 0..100; 0 with none active."""
    _check_part("active_with_unresolved_drift", active_with_unresolved_drift, "active", active)
    return 0.0 if active == 0 else 100.0 * active_with_unresolved_drift / active


def compliance_sla_percent(
    violations: Iterable[tuple[Severity | str, datetime, datetime | None]], now: datetime
) -> float:
    """Share of counted violations resolved within their severity's deadline, 0..100.

    Each violation is (severity, occurred_at, resolved_at or None). Resolved by the deadline
    (inclusive) is met, resolved later is a miss, still open past the deadline is a miss, and
    still open within it is not counted yet: it may still be met. Nothing counted: 100.
    """
    met = missed = 0
    for severity, occurred_at, resolved_at in violations:
        deadline = occurred_at + SLA_DEADLINES[_severity(severity)]
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
    """5xx errors / requests, 0..100; None without requests (no rate, rather than 0 %)."""
    _check_part("errors", errors, "requests", requests)
    return None if requests == 0 else 100.0 * errors / requests


def uptime_percent(up_checks: int, total_checks: int) -> float | None:
    """Share of health checks that were ``up``, 0..100; None when nothing was checked."""
    _check_part("up_checks", up_checks, "total_checks", total_checks)
    return None if total_checks == 0 else 100.0 * up_checks / total_checks


def percent_change(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent; None when a side is missing or previous is 0 (undefined)."""
    if current is None or previous is None or previous == 0:
        return None
    # abs(): a negative previous value still gives "up" for an increase.
    return 100.0 * (current - previous) / abs(previous)

"""KPI formulas of DOMAIN.md: defaults, boundaries, a hand-computed trust score, bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.domain import kpi
from dashboard.domain.enums import ComplianceTier, Severity

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
H = timedelta(hours=1)


def test_constants_are_the_documented_ones() -> None:
    assert dict(kpi.TRUST_WEIGHTS) == {
        "reliability": 0.30,
        "policy_adherence": 0.30,
        "sync_freshness": 0.25,
        "risk": 0.15,
    }
    assert math.isclose(sum(kpi.TRUST_WEIGHTS.values()), 1.0)  # so scores span 0..100
    assert {str(k): v for k, v in kpi.TIER_RISK.items()} == {
        "none": 0.6,
        "standard": 0.4,
        "high": 0.2,
        "critical": 0.1,
    }
    assert {str(k): v for k, v in kpi.SEVERITY_COST_USD.items()} == {
        "low": 500,
        "medium": 2000,
        "high": 5000,
        "critical": 15000,
    }
    assert {str(k): v for k, v in kpi.SLA_DEADLINES.items()} == {
        "critical": timedelta(hours=1),
        "high": timedelta(hours=4),
        "medium": timedelta(hours=24),
        "low": timedelta(days=7),
    }
    assert kpi.QUARANTINE_RISK_PENALTY == 0.5
    assert kpi.FRESHNESS_SLO_SECONDS == 60
    assert kpi.TRUST_WINDOW.total_seconds() == 24 * 3600
    # Every enum member has a value, so no lookup can miss on valid input.
    assert set(kpi.TIER_RISK) == set(ComplianceTier)
    assert set(kpi.SEVERITY_COST_USD) == set(kpi.SLA_DEADLINES) == set(Severity)


def test_constant_mappings_are_read_only() -> None:
    with pytest.raises(TypeError):
        kpi.TRUST_WEIGHTS["risk"] = 0.5  # type: ignore[index]
    with pytest.raises(TypeError):
        kpi.SEVERITY_COST_USD["low"] = 1.0  # type: ignore[index]


def test_plain_strings_find_enum_keys() -> None:
    # The SQL builders and the simulator look constants up with plain strings.
    assert kpi.TIER_RISK["standard"] == 0.4
    assert kpi.SEVERITY_COST_USD["critical"] == 15_000


def test_reliability() -> None:
    assert kpi.reliability(0, 0) == 0.5  # no traffic: no evidence either way
    assert kpi.reliability(90, 10) == pytest.approx(0.9)
    assert kpi.reliability(10, 0) == 1.0
    assert kpi.reliability(0, 10) == 0.0


def test_policy_adherence() -> None:
    assert kpi.policy_adherence(0, 0) == 1.0  # no traffic
    assert kpi.policy_adherence(0, 500) == 1.0
    assert kpi.policy_adherence(1, 100) == pytest.approx(0.8)
    assert kpi.policy_adherence(5, 100) == 0.0  # exactly a 5 % violation rate
    assert kpi.policy_adherence(4.9, 100) == pytest.approx(0.02)
    assert kpi.policy_adherence(50, 100) == 0.0  # clamped, never negative
    assert kpi.policy_adherence(3, 1) == 0.0  # more violations than requests: still 0


def test_freshness() -> None:
    assert kpi.freshness(0, 0) == 1.0  # no sources
    assert kpi.freshness(3, 4) == pytest.approx(0.75)
    assert kpi.freshness(0, 4) == 0.0
    with pytest.raises(ValueError, match="cannot exceed"):
        kpi.freshness(5, 4)


@pytest.mark.parametrize(
    ("tier", "quarantined", "expected"),
    [
        ("none", False, 0.6),
        ("standard", False, 0.4),
        ("high", False, 0.2),
        ("critical", False, 0.1),
        ("critical", True, 0.6),
        ("high", True, 0.7),
        ("standard", True, 0.9),
        ("none", True, 1.0),  # 1.1 capped at 1
        (ComplianceTier.HIGH, False, 0.2),  # the enum itself works too
    ],
)
def test_risk_exposure(tier: str, quarantined: bool, expected: float) -> None:
    assert kpi.risk_exposure(tier, quarantined) == pytest.approx(expected)


def test_hand_computed_trust_score() -> None:
    # reliability 950/1000 = 0.95; adherence 1 - 20 x 2/1000 = 0.96; freshness 4/5 = 0.8;
    # risk high 0.2 + quarantine 0.5 = 0.7.
    # 100 x (0.30 x 0.95 + 0.30 x 0.96 + 0.25 x 0.8 + 0.15 x 0.3)
    #   = 100 x (0.285 + 0.288 + 0.2 + 0.045) = 81.8
    t = kpi.compute_agent_trust(
        successes=950,
        errors=50,
        violations=2,
        requests=1000,
        fresh_sources=4,
        total_sources=5,
        tier=ComplianceTier.HIGH,
        quarantined=True,
    )
    assert t == kpi.TrustComponents(
        reliability=pytest.approx(0.95),  # type: ignore[arg-type]
        policy_adherence=pytest.approx(0.96),  # type: ignore[arg-type]
        sync_freshness=pytest.approx(0.8),  # type: ignore[arg-type]
        risk_exposure=pytest.approx(0.7),  # type: ignore[arg-type]
        score=pytest.approx(81.8),  # type: ignore[arg-type]
    )
    with pytest.raises(AttributeError):
        t.score = 100.0  # type: ignore[misc]


def test_trust_of_a_new_agent_without_traffic_or_sources() -> None:
    # 100 x (0.30 x 0.5 + 0.30 x 1 + 0.25 x 1 + 0.15 x (1 - 0.4)) = 79
    t = kpi.compute_agent_trust(
        successes=0,
        errors=0,
        violations=0,
        requests=0,
        fresh_sources=0,
        total_sources=0,
        tier="standard",
        quarantined=False,
    )
    assert t.score == pytest.approx(79.0)


def test_agent_trust_score_extremes_and_range_check() -> None:
    assert kpi.agent_trust_score(1, 1, 1, 0) == pytest.approx(100.0)
    assert kpi.agent_trust_score(0, 0, 0, 1) == pytest.approx(0.0)
    assert kpi.agent_trust_score(0, 0, 0, 0) == pytest.approx(15.0)  # only (1 - risk) counts
    for bad in ((1.5, 1, 1, 0), (1, -0.1, 1, 0), (1, 1, 1, math.nan)):
        with pytest.raises(ValueError, match=r"within \[0, 1\]"):
            kpi.agent_trust_score(*bad)


def test_system_trust_score() -> None:
    assert kpi.system_trust_score([]) is None  # no active agent: no score, not 0
    assert kpi.system_trust_score([80, 60]) == 70.0
    assert kpi.system_trust_score(s for s in (90.0, 75.0, 60.0)) == 75.0
    with pytest.raises(ValueError, match="0, 100"):
        kpi.system_trust_score([50, 101])


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "excellent"),
        (85, "excellent"),
        (84.999, "good"),
        (75, "good"),
        (74.999, "watch"),
        (70, "watch"),
        (69.999, "at risk"),
        (50, "at risk"),
        (49.999, "critical"),
        (0, "critical"),
        (None, None),
    ],
)
def test_trust_bands(score: float | None, band: str | None) -> None:
    assert kpi.trust_band(score) == band


def test_trust_band_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        kpi.trust_band(math.nan)


def test_risk_avoided_usd() -> None:
    assert kpi.risk_avoided_usd({}) == 0.0
    assert kpi.risk_avoided_usd({"low": 2, "critical": 1}) == 16_000.0
    assert (
        kpi.risk_avoided_usd({"low": 1, "medium": 1, "high": 1, Severity.CRITICAL: 1}) == 22_500.0
    )
    assert kpi.risk_avoided_usd({"high": 0}) == 0.0


def test_sync_freshness_percent() -> None:
    assert kpi.sync_freshness_percent([]) == 100.0  # no sources
    assert kpi.sync_freshness_percent([60]) == 100.0  # exactly at the SLO is within it
    assert kpi.sync_freshness_percent([60.001]) == 0.0
    assert kpi.sync_freshness_percent([10, 60, 61, None]) == 50.0  # None: never synced
    assert kpi.sync_freshness_percent([None, None]) == 0.0
    assert kpi.sync_freshness_percent([-2.0, 300]) == 50.0  # clock skew counts as fresh
    assert kpi.sync_freshness_percent([90, 200, 400], slo=300) == pytest.approx(200 / 3)
    assert kpi.sync_freshness_percent(lag for lag in (1.0, 2.0)) == 100.0
    with pytest.raises(ValueError, match="NaN"):
        kpi.sync_freshness_percent([math.nan])
    with pytest.raises(ValueError, match="slo"):
        kpi.sync_freshness_percent([1], slo=-1)


def test_drift_rate_percent() -> None:
    assert kpi.drift_rate_percent(0, 0) == 0.0  # no active agent
    assert kpi.drift_rate_percent(0, 40) == 0.0
    assert kpi.drift_rate_percent(15, 100) == 15.0
    assert kpi.drift_rate_percent(3, 3) == 100.0
    with pytest.raises(ValueError, match="cannot exceed"):
        kpi.drift_rate_percent(4, 3)


def test_compliance_sla_percent() -> None:
    rows = [
        ("critical", NOW - 10 * H, NOW - 10 * H + timedelta(minutes=30)),  # met
        ("critical", NOW - 10 * H, NOW - 8 * H),  # resolved late: miss
        ("high", NOW - 10 * H, None),  # open past its 4 h: miss
        ("low", NOW - 10 * H, None),  # open within its 7 d: not counted yet
        (Severity.MEDIUM, NOW - 30 * H, NOW - 7 * H),  # resolved after 23 h: met
    ]
    assert kpi.compliance_sla_percent(rows, NOW) == pytest.approx(200 / 4)
    assert kpi.compliance_sla_percent([], NOW) == 100.0
    assert kpi.compliance_sla_percent([rows[3]], NOW) == 100.0  # nothing counted yet


@pytest.mark.parametrize(
    ("severity", "deadline"),
    [
        ("critical", timedelta(hours=1)),
        ("high", timedelta(hours=4)),
        ("medium", timedelta(hours=24)),
        ("low", timedelta(days=7)),
    ],
)
def test_compliance_sla_deadline_boundaries(severity: str, deadline: timedelta) -> None:
    occurred = NOW - 30 * timedelta(days=1)
    at_deadline = occurred + deadline
    tick = timedelta(microseconds=1)
    met = kpi.compliance_sla_percent
    assert met([(severity, occurred, at_deadline)], NOW) == 100.0  # exactly on time: met
    assert met([(severity, occurred, at_deadline + tick)], NOW) == 0.0  # just late: miss
    open_now = NOW - deadline
    assert met([(severity, open_now, None), ("low", NOW, NOW)], NOW) == 100.0  # not yet due
    assert met([(severity, open_now - tick, None), ("low", NOW, NOW)], NOW) == 50.0  # overdue


def test_error_rate_percent() -> None:
    assert kpi.error_rate_percent(0, 0) is None  # no requests: no rate
    assert kpi.error_rate_percent(0, 100) == 0.0
    assert kpi.error_rate_percent(5, 100) == 5.0
    assert kpi.error_rate_percent(1, 3) == pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="cannot exceed"):
        kpi.error_rate_percent(101, 100)


def test_uptime_percent() -> None:
    assert kpi.uptime_percent(0, 0) is None  # never checked: unknown, not down
    assert kpi.uptime_percent(99, 100) == 99.0
    assert kpi.uptime_percent(0, 12) == 0.0
    with pytest.raises(ValueError, match="cannot exceed"):
        kpi.uptime_percent(13, 12)


def test_percent_change() -> None:
    assert kpi.percent_change(110, 100) == pytest.approx(10.0)
    assert kpi.percent_change(75, 100) == pytest.approx(-25.0)
    assert kpi.percent_change(-25, -50) == pytest.approx(50.0)  # an increase reads as up
    assert kpi.percent_change(100, 100) == 0.0
    assert kpi.percent_change(1, 0) is None
    assert kpi.percent_change(1, None) is None
    assert kpi.percent_change(None, 1) is None


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: kpi.reliability(-1, 0), "successes"),
        (lambda: kpi.reliability(1, -1), "errors"),
        (lambda: kpi.policy_adherence(-1, 10), "violations"),
        (lambda: kpi.policy_adherence(1, -10), "requests"),
        (lambda: kpi.freshness(-1, 2), "fresh_sources"),
        (lambda: kpi.freshness(0, -2), "total_sources"),
        (lambda: kpi.drift_rate_percent(-1, 5), "active_with_unresolved_drift"),
        (lambda: kpi.drift_rate_percent(0, -5), "active"),
        (lambda: kpi.error_rate_percent(-1, 5), "errors"),
        (lambda: kpi.uptime_percent(1, -5), "total_checks"),
        (lambda: kpi.risk_avoided_usd({"low": -1}), "low"),
        (lambda: kpi.reliability(math.nan, 1), "successes"),
    ],
)
def test_negative_or_nan_counts_are_rejected_by_name(call: object, name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a non-negative number"):
        call()  # type: ignore[operator]


def test_unknown_vocabulary_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown compliance tier 'platinum'"):
        kpi.risk_exposure("platinum", False)
    with pytest.raises(ValueError, match="unknown severity 'huge'"):
        kpi.risk_avoided_usd({"huge": 1})
    with pytest.raises(ValueError, match="unknown severity 'P1'"):
        kpi.compliance_sla_percent([("P1", NOW, None)], NOW)

"""KPI formulas of DOMAIN.md: defaults, boundaries and a hand-computed trust score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.domain import kpi

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_component_defaults_without_traffic_or_sources() -> None:
    assert kpi.reliability(0, 0) == 0.5
    assert kpi.policy_adherence(0, 0) == 1.0
    assert kpi.freshness(0, 0) == 1.0


def test_components() -> None:
    assert kpi.reliability(90, 10) == pytest.approx(0.9)
    assert kpi.policy_adherence(5, 100) == 0.0  # exactly 5 % -> 0
    assert kpi.policy_adherence(1, 100) == pytest.approx(0.8)
    assert kpi.policy_adherence(50, 100) == 0.0  # never negative
    assert kpi.freshness(3, 4) == pytest.approx(0.75)
    assert kpi.risk_exposure("none", False) == pytest.approx(0.6)
    assert kpi.risk_exposure("critical", True) == pytest.approx(0.6)
    assert kpi.risk_exposure("none", True) == 1.0  # capped


def test_hand_computed_trust_score() -> None:
    # 100 x (0.3*0.9 + 0.3*0.8 + 0.25*0.75 + 0.15*(1-0.4)) = 100 x 0.7875
    t = kpi.compute_agent_trust(
        successes=90,
        errors=10,
        violations=1,
        requests=100,
        fresh_sources=3,
        total_sources=4,
        tier="standard",
        quarantined=False,
    )
    assert t.score == pytest.approx(78.75)
    assert kpi.agent_trust_score(1, 1, 1, 0) == pytest.approx(100.0)
    assert kpi.agent_trust_score(0, 0, 0, 1) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (85, "excellent"),
        (84.99, "good"),
        (75, "good"),
        (74.9, "watch"),
        (70, "watch"),
        (69.9, "at risk"),
        (50, "at risk"),
        (49.9, "critical"),
        (0, "critical"),
        (None, None),
    ],
)
def test_trust_bands(score: float | None, band: str | None) -> None:
    assert kpi.trust_band(score) == band


def test_system_score_and_rates() -> None:
    assert kpi.system_trust_score([]) is None
    assert kpi.system_trust_score([80, 60]) == 70
    assert kpi.risk_avoided_usd({"low": 2, "critical": 1}) == 16_000
    assert kpi.sync_freshness_percent([]) == 100.0
    assert kpi.sync_freshness_percent([10, 60, 61, None]) == 50.0
    assert kpi.drift_rate_percent(0, 0) == 0.0
    assert kpi.drift_rate_percent(15, 100) == 15.0
    assert kpi.error_rate_percent(0, 0) is None
    assert kpi.error_rate_percent(5, 100) == 5.0
    assert kpi.uptime_percent(99, 100) == 99.0
    assert kpi.percent_change(110, 100) == pytest.approx(10.0)
    assert kpi.percent_change(1, 0) is None


def test_compliance_sla() -> None:
    h = timedelta(hours=1)
    rows = [
        ("critical", NOW - 10 * h, NOW - 10 * h + timedelta(minutes=30)),  # met
        ("critical", NOW - 10 * h, NOW - 8 * h),  # late: miss
        ("high", NOW - 10 * h, None),  # open past 4 h: miss
        ("low", NOW - 10 * h, None),  # open within 7 d: not counted
    ]
    assert kpi.compliance_sla_percent(rows, NOW) == pytest.approx(100 / 3)
    assert kpi.compliance_sla_percent([], NOW) == 100.0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        kpi.reliability(-1, 0)
    with pytest.raises(ValueError, match="tier"):
        kpi.risk_exposure("platinum", False)
    with pytest.raises(ValueError, match="severity"):
        kpi.risk_avoided_usd({"huge": 1})
    with pytest.raises(ValueError, match="within"):
        kpi.agent_trust_score(1.5, 1, 1, 0)

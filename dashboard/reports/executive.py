"""The executive summary: every figure read from the same data functions the dashboards use.

The five KPIs follow the Trust KPIs page's own split: the period's sums (Risk Avoided $,
Compliance SLA, violations) come from ``kpis.summarize_kpis`` over [start, end) judged at the
period's end, the point-in-time KPIs (Trust Score, Sync Freshness, Drift Rate) from
``kpis.summarize_kpis_at`` (the snapshot at the period's end, what the page compares against).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from dashboard.data import agents, kpis, violations
from dashboard.data.kpis import TrustDrivers
from dashboard.domain import periods
from dashboard.domain import thresholds as th
from dashboard.reports.incident_source import IncidentRow, incident_times

TOP_FALLING_AGENTS = 10


@dataclass(frozen=True)
class KpiLine:
    """One KPI of the report: its value in the period and the previous one, and its target."""

    key: str
    name: str
    unit: str  # "score", "usd" or "pct"
    value: float | None
    previous: float | None
    target: float | None
    target_text: str
    lower_is_better: bool = False

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def met(self) -> bool | None:
        """True when the target is met, None when there is no target or no value."""
        if self.value is None:
            return None
        if self.key == "risk_avoided_usd":
            return None if self.previous is None else self.value >= self.previous
        if self.target is None:
            return None
        return self.value <= self.target if self.lower_is_better else self.value >= self.target


@dataclass(frozen=True)
class ExecutiveReport:
    """Everything the executive summary shows, as data (the renderers only lay it out)."""

    start: datetime
    end: datetime
    previous_start: datetime
    previous_end: datetime
    generated_at: datetime
    label: str
    kpis: list[KpiLine]
    bucket: timedelta
    kpi_series: pd.DataFrame
    risk_avoided: pd.DataFrame
    agents_by_status: pd.DataFrame
    agents_at_end: dict[str, int | None]
    discovered_by_source: pd.DataFrame
    discovered_total: int
    violations_per_day: pd.DataFrame
    violations_total: int
    violation_days_over_guide: int
    incidents: list[IncidentRow] | None
    trust_drivers: TrustDrivers

    @property
    def title(self) -> str:
        return f"Executive summary · {self.label}"


def bucket_for(start: datetime, end: datetime) -> timedelta:
    """Daily points for a week or more, hourly below: at most a few hundred per chart."""
    return timedelta(days=1) if end - start >= timedelta(days=7) else timedelta(hours=1)


KPI_KEYS = (
    "trust_score",
    "risk_avoided_usd",
    "sync_freshness_pct",
    "drift_rate_pct",
    "compliance_sla_pct",
)


def has_kpi_data(at_end: dict[str, Any], *, violations: int) -> bool:
    """False for a period the console has no record of: no KPI snapshot, no violation."""
    return violations > 0 or any(
        at_end.get(k) is not None for k in ("trust_score", "sync_freshness_pct", "drift_rate_pct")
    )


def period_kpis(conn: Connection, *, start: datetime, end: datetime) -> dict[str, Any]:
    """The five KPI values of [start, end) as the report shows them (see the module docstring)."""
    summary = kpis.summarize_kpis(conn, start=start, end=end, now=end)
    at_end = kpis.summarize_kpis_at(conn, start=start, end=end)
    if not has_kpi_data(at_end, violations=summary.violations):
        # Before the console's data starts: "no data", never $0 or 100 % of nothing.
        return dict.fromkeys(KPI_KEYS) | {"violations": 0}
    return {
        "trust_score": at_end["trust_score"],
        "risk_avoided_usd": summary.risk_avoided_usd,
        "sync_freshness_pct": at_end["sync_freshness_pct"],
        "drift_rate_pct": at_end["drift_rate_pct"],
        "compliance_sla_pct": summary.compliance_sla_pct,
        "violations": summary.violations,
    }


def _kpi_lines(now: dict[str, Any], before: dict[str, Any]) -> list[KpiLine]:
    def f(d: dict[str, Any], key: str) -> float | None:
        v = d.get(key)
        return None if v is None else float(v)

    return [
        KpiLine(
            "trust_score",
            "Trust Score",
            "score",
            f(now, "trust_score"),
            f(before, "trust_score"),
            th.TARGET_TRUST_SCORE,
            f"≥ {th.TARGET_TRUST_SCORE:g}",
        ),
        KpiLine(
            "risk_avoided_usd",
            "Risk Avoided $",
            "usd",
            f(now, "risk_avoided_usd"),
            f(before, "risk_avoided_usd"),
            None,
            "rising",
        ),
        KpiLine(
            "sync_freshness_pct",
            "Sync Freshness",
            "pct",
            f(now, "sync_freshness_pct"),
            f(before, "sync_freshness_pct"),
            th.TARGET_SYNC_FRESHNESS_PCT,
            f"≥ {th.TARGET_SYNC_FRESHNESS_PCT:g} %",
        ),
        KpiLine(
            "drift_rate_pct",
            "Drift Rate",
            "pct",
            f(now, "drift_rate_pct"),
            f(before, "drift_rate_pct"),
            th.TARGET_DRIFT_RATE_PCT,
            f"< {th.DRIFT_RATE_HEALTHY_PCT:g} %",
            lower_is_better=True,
        ),
        KpiLine(
            "compliance_sla_pct",
            "Compliance SLA",
            "pct",
            f(now, "compliance_sla_pct"),
            f(before, "compliance_sla_pct"),
            th.TARGET_COMPLIANCE_SLA_PCT,
            f"≥ {th.TARGET_COMPLIANCE_SLA_PCT:g} %",
        ),
    ]


def build_executive_report(
    conn: Connection, *, start: datetime, end: datetime, generated_at: datetime
) -> ExecutiveReport:
    """The executive summary of [start, end) (UTC), compared with the period before it."""
    prev_start, prev_end = periods.previous_period(start, end)
    current = period_kpis(conn, start=start, end=end)
    previous = period_kpis(conn, start=prev_start, end=prev_end)
    bucket = bucket_for(start, end)
    series = kpis.list_kpi_series(conn, start=start, end=end, bucket=bucket)
    ra = kpis.list_risk_avoided_series(conn, start=start, end=end, bucket=bucket)
    by_status = agents.count_agents_by(conn, dimension="status")
    snap = kpis.get_kpi_snapshot_at(conn, at=end) or {}
    discovery = agents.list_discovery_rate(conn, start=start, end=end, bucket=bucket)
    by_source = (
        discovery.groupby("source", as_index=False)[["agents"]]
        .sum()
        .sort_values(["agents", "source"], ascending=[False, True])
        if not discovery.empty
        else pd.DataFrame({"source": pd.Series(dtype=str), "agents": pd.Series(dtype=int)})
    )
    per_day = violations.list_violations_per_day(conn, start=start, end=end)
    drivers = kpis.summarize_trust_drivers(conn, start=start, end=end, limit=TOP_FALLING_AGENTS)
    return ExecutiveReport(
        start=start,
        end=end,
        previous_start=prev_start,
        previous_end=prev_end,
        generated_at=generated_at,
        label=periods.period_label(start, end),
        kpis=_kpi_lines(current, previous),
        bucket=bucket,
        kpi_series=series,
        risk_avoided=ra,
        agents_by_status=by_status,
        agents_at_end={
            "active": snap.get("active_agents"),
            "total": snap.get("total_agents"),
            "quarantined": snap.get("quarantined_agents"),
        },
        discovered_by_source=by_source.reset_index(drop=True),
        discovered_total=int(by_source["agents"].sum()) if not by_source.empty else 0,
        violations_per_day=per_day,
        violations_total=int(per_day["violations"].sum()),
        violation_days_over_guide=int(
            (per_day["violations"] >= th.VIOLATIONS_PER_DAY_REVIEW).sum()
        ),
        incidents=incident_times(conn, start=start, end=end),
        trust_drivers=drivers,
    )

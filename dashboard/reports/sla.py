"""The quarterly SLA compliance review: uptime per component, incident response per severity,
the Compliance SLA KPI trend, and every breach listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from dashboard.data import health, kpis, violations
from dashboard.data.cache import register
from dashboard.data.report_store import ReportFiles
from dashboard.domain import periods
from dashboard.domain import thresholds as th
from dashboard.reports import pdf
from dashboard.reports.executive_render import NO_INCIDENTS, fmt_duration
from dashboard.reports.incident_source import IncidentRow, incident_times
from dashboard.reports.tables import Section, frame_rows, to_csv, to_xlsx

#: The guide's response times per incident severity (Incident Response, Severity Levels).
RESPONSE_TARGETS: dict[str, timedelta] = {
    "P1": timedelta(minutes=15),
    "P2": timedelta(hours=1),
    "P3": timedelta(hours=4),
    "P4": timedelta(weeks=1),
}
MAX_BREACHES = 200


@register
@dataclass(frozen=True)
class SlaReview:
    start: datetime
    end: datetime
    generated_at: datetime
    label: str
    uptime_target_pct: float
    uptime: pd.DataFrame  # component, uptime_pct, checks, met
    incidents: list[IncidentRow] | None
    compliance_series: pd.DataFrame  # ts, compliance_sla_pct
    compliance_pct: float
    violations: int
    breaches: pd.DataFrame  # violations that missed their deadline

    @property
    def title(self) -> str:
        return f"SLA compliance review · {self.label}"


def build_sla_review(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    generated_at: datetime,
    uptime_target_pct: float,
) -> SlaReview:
    """The review of [start, end) (a quarter by default) against ``uptime_target_pct``."""
    window = end - start
    uptime = health.summarize_uptime(conn, now=end, windows=[window])[
        ["component", "uptime_pct", "checks"]
    ].reset_index(drop=True)
    uptime["met"] = [
        None if pd.isna(u) else bool(u >= uptime_target_pct) for u in uptime["uptime_pct"]
    ]
    summary = kpis.summarize_kpis(conn, start=start, end=end, now=end)
    series = kpis.list_kpi_series(conn, start=start, end=end, bucket=timedelta(days=1))
    return SlaReview(
        start=start,
        end=end,
        generated_at=generated_at,
        label=periods.period_label(start, end),
        uptime_target_pct=uptime_target_pct,
        uptime=uptime,
        incidents=incident_times(conn, start=start, end=end),
        compliance_series=series[["ts", "compliance_sla_pct"]],
        compliance_pct=summary.compliance_sla_pct,
        violations=summary.violations,
        breaches=violations.list_sla_misses(
            conn, start=start, end=end, now=end, limit=MAX_BREACHES
        ),
    )


def _range(r: SlaReview) -> str:
    return f"{r.start:%Y-%m-%d} – {(r.end - timedelta(seconds=1)):%Y-%m-%d} UTC"


def _response_rows(r: SlaReview) -> list[list[object]]:
    rows: list[list[object]] = []
    found = {i.severity: i for i in (r.incidents or [])}
    for sev, target in RESPONSE_TARGETS.items():
        i = found.get(sev)
        mtta = None if i is None else i.mtta_s
        met = None if mtta is None else mtta <= target.total_seconds()
        rows.append(
            [
                sev,
                0 if i is None else i.count,
                fmt_duration(target.total_seconds()),
                fmt_duration(mtta),
                fmt_duration(None if i is None else i.mttr_s),
                {True: "met", False: "missed", None: "–"}[met],
            ]
        )
    return rows


def compliance_text(r: SlaReview) -> str:
    """The Compliance SLA in words; with no violation in the period there is no figure."""
    if r.violations == 0:
        return (
            "No policy violation was recorded in this period, so there is no Compliance SLA figure"
        )
    return (
        f"Compliance SLA {r.compliance_pct:.1f} % over {r.violations:,} violations "
        f"(target {th.TARGET_COMPLIANCE_SLA_PCT:g} %)"
    )


def render_sla(r: SlaReview) -> ReportFiles:
    w = pdf.CONTENT_WIDTH
    missed = [c for c, m in zip(r.uptime["component"], r.uptime["met"], strict=True) if m is False]
    headline = (
        f"Uptime target {r.uptime_target_pct:g} %: "
        + (
            f"<b>missed by {', '.join(pdf.safe(m) for m in missed)}</b>"
            if missed
            else "met by every component with checks"
        )
        + f". {compliance_text(r)}; {len(r.breaches):,} breach{'' if len(r.breaches) == 1 else 'es'} listed."
    )
    up_rows = [
        [
            c,
            "no checks" if pd.isna(u) else f"{u:.3f} %",
            f"{int(n):,}",
            {True: "met", False: "missed", None: "–"}[m],
        ]
        for c, u, n, m in zip(
            r.uptime["component"],
            r.uptime["uptime_pct"],
            r.uptime["checks"],
            r.uptime["met"],
            strict=True,
        )
    ]
    series = [
        (ts.to_pydatetime(), None if pd.isna(v) else float(v))
        for ts, v in zip(
            r.compliance_series["ts"], r.compliance_series["compliance_sla_pct"], strict=True
        )
    ]
    story = [
        pdf.para(f"SLA compliance review — {pdf.safe(r.label)}", "h1"),
        pdf.para(f"Period {_range(r)}. Generated {r.generated_at:%Y-%m-%d %H:%M} UTC.", "muted"),
        pdf.para(headline, "callout"),
        pdf.section(
            "Uptime per component",
            pdf.table(
                ["Component", "Uptime", "Checks", f"Target {r.uptime_target_pct:g} %"],
                up_rows,
                widths=[w * 0.3, w * 0.2, w * 0.2, w * 0.2],
                numeric=[1, 2],
            ),
            pdf.para("Uptime = share of health checks that were up (DOMAIN.md).", "muted"),
        ),
        pdf.section(
            "Incident response and resolution by severity",
            *(
                [pdf.para(NO_INCIDENTS, "callout")]
                if r.incidents is None
                else [
                    pdf.table(
                        ["Severity", "Incidents", "Response target", "MTTA", "MTTR", "Response"],
                        _response_rows(r),
                        widths=[w * 0.13, w * 0.13, w * 0.2, w * 0.16, w * 0.16, w * 0.16],
                        numeric=[1, 3, 4],
                    ),
                    pdf.para(
                        "Response targets from the operations guide: P1 15 min, P2 1 h, "
                        "P3 4 h, P4 1 week.",
                        "muted",
                    ),
                ]
            ),
        ),
        pdf.section(
            "Compliance SLA trend",
            pdf.line_chart(
                "Compliance SLA (%), daily",
                [pdf.Series("Compliance SLA", series)],
                reference=(
                    th.TARGET_COMPLIANCE_SLA_PCT,
                    f"target {th.TARGET_COMPLIANCE_SLA_PCT:g} %",
                ),
            ),
        ),
    ]
    b = r.breaches
    breach_rows = [
        [
            f"{int(i)}",
            pdf.data_para(n),
            pdf.data_para(p),
            s,
            f"{o:%m-%d %H:%M}",  # the year is the period's (in the header)
            f"{dl:%m-%d %H:%M}",
            "open" if pd.isna(res) else f"{res:%m-%d %H:%M}",
        ]
        for i, n, p, s, o, dl, res in zip(
            b["agent_id"],
            b["agent_name"],
            b["policy_id"],
            b["severity"],
            b["occurred_at"],
            b["deadline_at"],
            b["resolved_at"],
            strict=True,
        )
    ]
    story.append(
        pdf.section(
            "Breaches: violations resolved late or still open past their deadline",
            pdf.para("Times are UTC, as month-day hour:minute within the period.", "muted"),
            pdf.table(
                ["Agent id", "Agent", "Policy", "Severity", "Occurred", "Deadline", "Resolved"],
                breach_rows,
                widths=[w * 0.09, w * 0.23, w * 0.175, w * 0.115, w * 0.13, w * 0.13, w * 0.13],
                numeric=[0],
            )
            if breach_rows
            else pdf.para("No violation missed its deadline in this period."),
            pdf.para(
                "Each agent opens in the console at /agent_registry?agent=ID (the CSV and XLSX carry the link).",
                "muted",
            ),
        )
    )
    b_out = b.copy()
    b_out["link"] = [f"/agent_registry?agent={int(a)}" for a in b_out["agent_id"]]
    secs = [
        Section(
            "Uptime",
            ["component", "uptime_pct", "checks", "target_pct", "target_met"],
            [
                [*row[:3], r.uptime_target_pct, row[3]]
                for row in frame_rows(r.uptime, ["component", "uptime_pct", "checks", "met"])
            ],
        ),
        Section(
            "Incident response",
            ["severity", "incidents", "response_target_s", "mtta_s", "mttr_s"],
            []
            if r.incidents is None
            else [
                [
                    i.severity,
                    i.count,
                    RESPONSE_TARGETS.get(i.severity, timedelta()).total_seconds(),
                    i.mtta_s,
                    i.mttr_s,
                ]
                for i in r.incidents
            ],
            note=NO_INCIDENTS if r.incidents is None else None,
        ),
        Section(
            "Compliance SLA trend",
            ["ts_utc", "compliance_sla_pct"],
            frame_rows(r.compliance_series, ["ts", "compliance_sla_pct"]),
        ),
        Section(
            "Breaches",
            [
                "violation_id",
                "agent_id",
                "agent_name",
                "policy_id",
                "severity",
                "occurred_at_utc",
                "deadline_at_utc",
                "resolved_at_utc",
                "link",
            ],
            frame_rows(
                b_out,
                [
                    "id",
                    "agent_id",
                    "agent_name",
                    "policy_id",
                    "severity",
                    "occurred_at",
                    "deadline_at",
                    "resolved_at",
                    "link",
                ],
            ),
        ),
    ]
    meta = [
        ("period", _range(r)),
        ("generated_at_utc", f"{r.generated_at:%Y-%m-%d %H:%M:%S}"),
        ("uptime_target_pct", f"{r.uptime_target_pct:g}"),
    ]
    summary: dict[str, Any] = {
        "compliance_sla_pct": r.compliance_pct if r.violations else None,
        "breaches": len(b),
        "components_missing_target": missed,
    }
    return ReportFiles(
        kind="sla",
        title=r.title,
        period_start=r.start,
        period_end=r.end,
        generated_at=r.generated_at,
        pdf=pdf.render(pdf.Frame(r.title, _range(r), r.generated_at), story),
        csv=to_csv(r.title, meta, secs),
        xlsx=to_xlsx(r.title, meta, secs),
        summary=summary,
    )

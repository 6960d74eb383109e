"""The executive summary laid out: PDF pages, and the CSV / XLSX of the same numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak
from reportlab.platypus.flowables import Flowable

from dashboard.data.report_store import ReportFiles
from dashboard.domain import thresholds as th
from dashboard.reports import pdf
from dashboard.reports.executive import ExecutiveReport, KpiLine
from dashboard.reports.tables import Section, frame_rows, to_csv, to_xlsx

NO_INCIDENTS = (
    "No incident data: this console does not record incidents yet, so no MTTA or MTTR "
    "can be given for this period."
)


def fmt(unit: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if unit == "usd":
        return f"${value:,.0f}"
    if unit == "pct":
        return f"{value:.1f} %"
    return f"{value:.1f}"


def fmt_change(line: KpiLine) -> str:
    c = line.change
    if c is None:
        return "–"
    if line.unit == "usd":
        return f"{'+' if c >= 0 else '−'}${abs(c):,.0f}"
    suffix = " pts" if line.unit == "pct" else ""
    return f"{'+' if c >= 0 else '−'}{abs(c):.1f}{suffix}"


def _verdict(line: KpiLine) -> str:
    return {True: "met", False: "missed", None: "–"}[line.met]


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def data_range(r: ExecutiveReport) -> str:
    last = r.end - pd.Timedelta(seconds=1)
    return f"{r.start:%Y-%m-%d} – {last:%Y-%m-%d} UTC"


def _points(df: pd.DataFrame, col: str) -> list[tuple[datetime, float | None]]:
    return [
        (ts.to_pydatetime(), None if pd.isna(v) else float(v))
        for ts, v in zip(df["ts"], df[col], strict=True)
    ]


def _headline(r: ExecutiveReport) -> str:
    missed = [k.name for k in r.kpis if k.met is False]
    met = sum(1 for k in r.kpis if k.met is True)
    parts = [f"<b>{met} of {sum(1 for k in r.kpis if k.met is not None)}</b> KPI targets met"]
    if missed:
        parts.append("missed: " + ", ".join(missed))
    parts.append(f"{r.violations_total:,} policy violations")
    over = r.violation_days_over_guide
    parts.append(
        f"{over} day{'s' if over != 1 else ''} at or over the guide's "
        f"{th.VIOLATIONS_PER_DAY_REVIEW:g}/day"
    )
    ra = next(k for k in r.kpis if k.key == "risk_avoided_usd")
    parts.append(f"Risk Avoided {fmt('usd', ra.value)}")
    return "; ".join(parts) + "."


def story(r: ExecutiveReport) -> list[Flowable]:
    s: list[Flowable] = [
        pdf.para(f"Executive summary — {pdf.safe(r.label)}", "h1"),
        pdf.para(
            f"Period {data_range(r)}, compared with {r.previous_start:%Y-%m-%d} – "
            f"{(r.previous_end - pd.Timedelta(seconds=1)):%Y-%m-%d}. Generated "
            f"{r.generated_at:%Y-%m-%d %H:%M} UTC from the console's database; the figures "
            "match the Trust KPIs and Agent Registry pages for the same range.",
            "muted",
        ),
        pdf.para(_headline(r), "callout"),
    ]
    rows = [
        [
            k.name,
            fmt(k.unit, k.value),
            fmt(k.unit, k.previous),
            fmt_change(k),
            k.target_text,
            _verdict(k),
        ]
        for k in r.kpis
    ]
    w = pdf.CONTENT_WIDTH
    s.append(
        pdf.section(
            "Key performance indicators",
            pdf.table(
                ["KPI", "This period", "Previous", "Change", "Target", "Status"],
                rows,
                widths=[w * 0.22, w * 0.16, w * 0.16, w * 0.14, w * 0.18, w * 0.14],
                numeric=[1, 2, 3],
            ),
            pdf.para(
                "Trust Score, Sync Freshness and Drift Rate are the values at the end of each "
                "period; Risk Avoided $ and Compliance SLA cover the whole period.",
                "muted",
            ),
        )
    )
    series = r.kpi_series
    charts = [
        pdf.line_chart(
            "Trust Score (0–100)",
            [pdf.Series("Trust Score", _points(series, "trust_score"))],
            reference=(th.TARGET_TRUST_SCORE, f"target {th.TARGET_TRUST_SCORE:g}"),
        ),
        pdf.line_chart(
            "Sync Freshness (%)",
            [pdf.Series("Sync Freshness", _points(series, "sync_freshness_pct"))],
            reference=(th.TARGET_SYNC_FRESHNESS_PCT, f"target {th.TARGET_SYNC_FRESHNESS_PCT:g} %"),
        ),
        pdf.line_chart(
            "Drift Rate (%)",
            [pdf.Series("Drift Rate", _points(series, "drift_rate_pct"))],
            reference=(th.DRIFT_RATE_HEALTHY_PCT, f"healthy below {th.DRIFT_RATE_HEALTHY_PCT:g} %"),
        ),
        pdf.line_chart(
            "Compliance SLA (%)",
            [pdf.Series("Compliance SLA", _points(series, "compliance_sla_pct"))],
            reference=(th.TARGET_COMPLIANCE_SLA_PCT, f"target {th.TARGET_COMPLIANCE_SLA_PCT:g} %"),
        ),
    ]
    s.append(pdf.section("KPI trends", charts[0], pdf.gap(2), charts[1]))
    s.append(pdf.section("", charts[2], pdf.gap(2), charts[3]))
    ra = r.risk_avoided
    s.append(
        pdf.section(
            "Risk Avoided $ (cumulative)",
            pdf.line_chart(
                "Risk Avoided $, running total over the period",
                [pdf.Series("cumulative", _points(ra, "cumulative_usd"))],
                unit="usd",
                y_min=0,
            ),
            pdf.para(
                "Blocked policy violations priced by severity (low $500, medium $2,000, high "
                "$5,000, critical $15,000).",
                "muted",
            ),
        )
    )
    s.append(PageBreak())
    status_rows = [
        [v, f"{int(n):,}"]
        for v, n in zip(r.agents_by_status["value"], r.agents_by_status["agents"], strict=True)
    ]
    at_end = r.agents_at_end
    end_text = (
        f"At the end of the period: {at_end['active']:,} active of {at_end['total']:,} agents, "
        f"{at_end['quarantined']:,} quarantined."
        if at_end.get("total") is not None
        else "No KPI snapshot was recorded at the end of the period."
    )
    src_rows = [
        [v, f"{int(n):,}"]
        for v, n in zip(
            r.discovered_by_source["source"], r.discovered_by_source["agents"], strict=True
        )
    ]
    s.append(
        pdf.section(
            "Agents",
            pdf.para(end_text),
            pdf.gap(2),
            pdf.table(
                [f"Status on {r.generated_at:%Y-%m-%d} (generated)", "Agents"],
                status_rows or [["none", "0"]],
                widths=[w * 0.4, w * 0.2],
                numeric=[1],
            ),
            pdf.gap(3),
            pdf.para(
                f"<b>Discovery:</b> {r.discovered_total:,} agents first discovered in the "
                "period. New agents land in quarantine until an operator reviews them."
            ),
            pdf.gap(2),
            pdf.table(
                ["Discovery source", "New agents"],
                src_rows or [["none", "0"]],
                widths=[w * 0.3, w * 0.2],
                numeric=[1],
            ),
        )
    )
    pv = r.violations_per_day
    pv_points = [
        (datetime.combine(d, datetime.min.time(), tzinfo=r.start.tzinfo), float(n))
        for d, n in zip(pv["day"], pv["violations"], strict=True)
    ]
    s.append(
        pdf.section(
            "Policy violations per day",
            pdf.line_chart(
                "Violations per day (red: at or over the guide's limit)",
                [pdf.Series("violations", pv_points)],
                bars=True,
                reference=(
                    th.VIOLATIONS_PER_DAY_REVIEW,
                    f"guide: review at {th.VIOLATIONS_PER_DAY_REVIEW:g}/day",
                ),
            ),
            pdf.para(
                f"{r.violations_total:,} violations in the period; {r.violation_days_over_guide} of "
                f"{len(pv)} days at or over {th.VIOLATIONS_PER_DAY_REVIEW:g}/day, when the guide "
                "says to review policies.",
                "muted",
            ),
        )
    )
    if r.incidents is None:
        inc: list[Flowable] = [pdf.para(NO_INCIDENTS, "callout")]
    elif not any(i.count for i in r.incidents):
        inc = [pdf.para("No incidents were declared in this period.", "callout")]
    else:
        inc = [
            pdf.table(
                ["Severity", "Incidents", "MTTA", "MTTR"],
                [
                    [i.severity, f"{i.count:,}", fmt_duration(i.mtta_s), fmt_duration(i.mttr_s)]
                    for i in r.incidents
                ],
                widths=[w * 0.2, w * 0.2, w * 0.2, w * 0.2],
                numeric=[1, 2, 3],
            )
        ]
    s.append(pdf.section("Incidents by severity", *inc))
    falls = r.trust_drivers.agents
    comp = r.trust_drivers.components
    comp_rows = [
        [
            c,
            "–" if pd.isna(b) else f"{b:.3f}",
            "–" if pd.isna(a) else f"{a:.3f}",
            "–" if pd.isna(dl) else f"{dl:+.3f}",
        ]
        for c, b, a, dl in zip(
            comp["component"], comp["before"], comp["after"], comp["delta"], strict=True
        )
    ]
    fall_rows = [
        [f"{int(i)}", pdf.data_para(n), f"{b:.1f}", f"{a:.1f}", f"{dl:+.1f}"]
        for i, n, b, a, dl in zip(
            falls["agent_id"],
            falls["name"],
            falls["score_before"],
            falls["score_after"],
            falls["delta"],
            strict=True,
        )
    ]
    s.append(
        pdf.section(
            "Behind the Trust Score: components and the steepest falls",
            pdf.table(
                ["Component (0–1)", "Start", "End", "Change"],
                comp_rows,
                widths=[w * 0.3, w * 0.15, w * 0.15, w * 0.15],
                numeric=[1, 2, 3],
            ),
            pdf.gap(3),
            pdf.table(
                ["Agent id", "Agent", "Score before", "Score after", "Change"],
                fall_rows,
                widths=[w * 0.12, w * 0.46, w * 0.14, w * 0.14, w * 0.14],
                numeric=[0, 2, 3, 4],
            )
            if fall_rows
            else pdf.para(
                "No active agent's trust score fell over the period."
                if comp["before"].notna().any()
                else f"No trust scores were recorded at the period's start "
                f"({r.start:%Y-%m-%d}), so falls over the period cannot be measured."
            ),
        )
    )
    _ = mm
    return s


def sections(r: ExecutiveReport) -> list[Section]:
    """The report's numbers as tables (the CSV and XLSX)."""
    kpi_rows: list[list[object]] = [
        [k.key, k.name, k.value, k.previous, k.change, k.target, k.target_text, _verdict(k)]
        for k in r.kpis
    ]
    out = [
        Section(
            "KPIs",
            ["key", "kpi", "value", "previous", "change", "target", "target_rule", "target_status"],
            kpi_rows,
        ),
        Section(
            "KPI trends",
            ["ts_utc", "trust_score", "sync_freshness_pct", "drift_rate_pct", "compliance_sla_pct"],
            frame_rows(
                r.kpi_series,
                ["ts", "trust_score", "sync_freshness_pct", "drift_rate_pct", "compliance_sla_pct"],
            ),
        ),
        Section(
            "Risk avoided",
            ["ts_utc", "risk_avoided_usd", "cumulative_usd"],
            frame_rows(r.risk_avoided, ["ts", "risk_avoided_usd", "cumulative_usd"]),
        ),
        Section(
            "Agents by status",
            ["status_now", "agents"],
            frame_rows(r.agents_by_status, ["value", "agents"]),
        ),
        Section(
            "Agents at period end",
            ["active", "total", "quarantined"],
            [
                [
                    r.agents_at_end.get("active"),
                    r.agents_at_end.get("total"),
                    r.agents_at_end.get("quarantined"),
                ]
            ],
        ),
        Section(
            "Discovery",
            ["source", "agents_discovered"],
            [
                *frame_rows(r.discovered_by_source, ["source", "agents"]),
                ["all", r.discovered_total],
            ],
        ),
        Section(
            "Violations per day",
            ["day", "violations", "blocked", "at_or_over_guide"],
            [
                [d, int(n), int(b), bool(n >= th.VIOLATIONS_PER_DAY_REVIEW)]
                for d, n, b in zip(
                    r.violations_per_day["day"],
                    r.violations_per_day["violations"],
                    r.violations_per_day["blocked"],
                    strict=True,
                )
            ],
        ),
        Section(
            "Incidents",
            ["severity", "incidents", "mtta_s", "mttr_s"],
            []
            if r.incidents is None
            else [[i.severity, i.count, i.mtta_s, i.mttr_s] for i in r.incidents],
            note=NO_INCIDENTS if r.incidents is None else None,
        ),
        Section(
            "Trust components",
            ["component", "start", "end", "change"],
            frame_rows(r.trust_drivers.components, ["component", "before", "after", "delta"]),
        ),
        Section(
            "Trust falls",
            ["agent_id", "agent_name", "score_before", "score_after", "change"],
            frame_rows(
                r.trust_drivers.agents, ["agent_id", "name", "score_before", "score_after", "delta"]
            ),
        ),
    ]
    return out


def summary(r: ExecutiveReport) -> dict[str, Any]:
    return {k.key: k.value for k in r.kpis} | {
        "violations": r.violations_total,
        "discovered": r.discovered_total,
    }


def render_executive(r: ExecutiveReport) -> ReportFiles:
    meta = [
        ("period", data_range(r)),
        (
            "previous period",
            f"{r.previous_start:%Y-%m-%d} – "
            f"{(r.previous_end - pd.Timedelta(seconds=1)):%Y-%m-%d} UTC",
        ),
        ("generated_at_utc", f"{r.generated_at:%Y-%m-%d %H:%M:%S}"),
    ]
    secs = sections(r)
    frame = pdf.Frame(r.title, data_range(r), r.generated_at)
    return ReportFiles(
        kind="executive",
        title=r.title,
        period_start=r.start,
        period_end=r.end,
        generated_at=r.generated_at,
        pdf=pdf.render(frame, story(r)),
        csv=to_csv(r.title, meta, secs),
        xlsx=to_xlsx(r.title, meta, secs),
        summary=summary(r),
    )

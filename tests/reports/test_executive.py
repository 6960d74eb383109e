"""The executive summary from seeded data: same figures as the data layer, a readable PDF."""

from __future__ import annotations

import io
import math
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from dashboard.data import agents, incidents, kpis, violations
from dashboard.data.report_store import ReportFiles
from dashboard.reports.executive import ExecutiveReport, build_executive_report, has_kpi_data
from dashboard.reports.executive_render import NO_INCIDENTS, render_executive
from tests.harness import ARTIFACTS
from tests.reports.conftest import HOSTILE_NAMES, PERIOD_END, PERIOD_START

GENERATED = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(report_engine: Engine) -> tuple[ExecutiveReport, ReportFiles]:
    with report_engine.connect() as conn:
        report = build_executive_report(
            conn, start=PERIOD_START, end=PERIOD_END, generated_at=GENERATED
        )
    files = render_executive(report)
    out = ARTIFACTS / "reports"
    out.mkdir(parents=True, exist_ok=True)
    (out / "executive.pdf").write_bytes(files.pdf)
    return report, files


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_every_kpi_equals_the_data_layer(
    report_engine: Engine, built: tuple[ExecutiveReport, ReportFiles]
) -> None:
    report, _ = built
    with report_engine.connect() as conn:
        summary = kpis.summarize_kpis(conn, start=PERIOD_START, end=PERIOD_END, now=PERIOD_END)
        at_end = kpis.summarize_kpis_at(conn, start=PERIOD_START, end=PERIOD_END)
        prev = kpis.summarize_kpis_at(conn, start=report.previous_start, end=report.previous_end)
        prev_summary = kpis.summarize_kpis(
            conn, start=report.previous_start, end=report.previous_end, now=report.previous_end
        )
    lines = {k.key: k for k in report.kpis}
    assert set(lines) == {
        "trust_score",
        "risk_avoided_usd",
        "sync_freshness_pct",
        "drift_rate_pct",
        "compliance_sla_pct",
    }
    assert _same(lines["risk_avoided_usd"].value, summary.risk_avoided_usd)
    assert (lines["risk_avoided_usd"].value or 0) > 0
    assert _same(lines["compliance_sla_pct"].value, summary.compliance_sla_pct)
    for key in ("trust_score", "sync_freshness_pct", "drift_rate_pct"):
        assert at_end[key] is not None
        assert _same(lines[key].value, at_end[key]), key
        assert _same(lines[key].previous, prev[key]), key
    assert _same(lines["risk_avoided_usd"].previous, prev_summary.risk_avoided_usd)
    assert _same(lines["compliance_sla_pct"].previous, prev_summary.compliance_sla_pct)
    assert report.violations_total == summary.violations > 0


def test_series_and_counts_equal_the_data_layer(
    report_engine: Engine, built: tuple[ExecutiveReport, ReportFiles]
) -> None:
    report, _ = built
    with report_engine.connect() as conn:
        series = kpis.list_kpi_series(
            conn, start=PERIOD_START, end=PERIOD_END, bucket=report.bucket
        )
        ra = kpis.list_risk_avoided_series(
            conn, start=PERIOD_START, end=PERIOD_END, bucket=report.bucket
        )
        status = agents.count_agents_by(conn, dimension="status")
        discovery = agents.list_discovery_rate(
            conn, start=PERIOD_START, end=PERIOD_END, bucket=report.bucket
        )
        per_day = violations.list_violations_per_day(conn, start=PERIOD_START, end=PERIOD_END)
        drivers = kpis.summarize_trust_drivers(conn, start=PERIOD_START, end=PERIOD_END, limit=10)
    assert series.equals(report.kpi_series)
    assert ra.equals(report.risk_avoided)
    assert ra["cumulative_usd"].iloc[-1] == pytest.approx(
        next(k.value for k in report.kpis if k.key == "risk_avoided_usd")
    )
    assert status.equals(report.agents_by_status)
    assert report.discovered_total == int(discovery["agents"].sum())
    assert per_day.equals(report.violations_per_day)
    assert len(per_day) == (PERIOD_END - PERIOD_START).days
    assert drivers.agents.equals(report.trust_drivers.agents)
    assert len(report.trust_drivers.agents) > 0
    with report_engine.connect() as conn:
        times = incidents.summarize_incident_times(conn, start=PERIOD_START, end=PERIOD_END)
    assert report.incidents is not None
    assert [(i.severity, i.count, i.mtta_s, i.mttr_s) for i in report.incidents] == [
        (t.severity, t.count, t.mtta_s, t.mttr_s) for t in times
    ]
    by_sev = {i.severity: i for i in report.incidents}
    assert (by_sev["P1"].count, by_sev["P1"].mtta_s, by_sev["P1"].mttr_s) == (1, 600.0, 7200.0)


def pdftotext(data: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def test_pdf_has_sections_frame_and_hostile_names_as_text(
    built: tuple[ExecutiveReport, ReportFiles], tmp_path: Path
) -> None:
    report, files = built
    assert files.pdf.startswith(b"%PDF-")
    text = pdftotext(files.pdf, tmp_path)
    for heading in (
        "Executive summary",
        "Key performance indicators",
        "KPI trends",
        "Risk Avoided $ (cumulative)",
        "Agents",
        "Policy violations per day",
        "Incidents by severity",
        "Behind the Trust Score",
    ):
        assert heading in text, heading
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Generated 2026-11-20 12:30 UTC" in page
        assert "Data: 2026-11-18 – 2026-11-19 UTC" in page
        assert "Executive summary" in page
    # Reading order (not layout): a wrapped table cell reads as one run of words.
    flat = " ".join(pdftotext(files.pdf, tmp_path, layout=False).split())
    for name in [*HOSTILE_NAMES[:2], HOSTILE_NAMES[3]]:
        assert " ".join(name.split()) in flat, name
    assert "evil[U+202E]txt.exe" in flat
    assert "Incidents by severity" in flat
    assert "P1 1 10 min 2.0 h" in flat
    assert f"{next(k.value for k in report.kpis if k.key == 'risk_avoided_usd'):,.0f}" in flat


def test_csv_and_xlsx_carry_the_same_numbers_neutralised(
    built: tuple[ExecutiveReport, ReportFiles],
) -> None:
    report, files = built
    csv_text = files.csv.decode()
    assert '"## KPIs"' in csv_text
    ra = next(k for k in report.kpis if k.key == "risk_avoided_usd")
    assert f'"{ra.value}"' in csv_text
    assert "'=cmd|' /C calc'!A0" in csv_text  # formula neutralised
    assert NO_INCIDENTS not in csv_text
    assert '"P1","1","600.0","7200.0"' in csv_text
    wb = load_workbook(io.BytesIO(files.xlsx))
    assert {"About", "KPIs", "Trust falls", "Violations per day"} <= set(wb.sheetnames)
    kpi_rows = list(wb["KPIs"].iter_rows(values_only=True))
    by_key = {r[0]: r for r in kpi_rows[1:]}
    assert by_key["risk_avoided_usd"][2] == pytest.approx(ra.value)
    trust = next(k for k in report.kpis if k.key == "trust_score")
    assert by_key["trust_score"][2] == pytest.approx(trust.value)
    names = [r[1] for r in wb["Trust falls"].iter_rows(values_only=True)][1:]
    assert "'=cmd|' /C calc'!A0" in names
    for cell_value in names:
        assert not str(cell_value).startswith(("=", "+", "-", "@"))
    days = list(wb["Violations per day"].iter_rows(values_only=True))[1:]
    assert sum(int(r[1]) for r in days) == report.violations_total


def _sheet(wb: object, name: str) -> list[tuple[object, ...]]:
    rows = list(wb[name].iter_rows(values_only=True))  # type: ignore[index]
    return rows[1:]  # below the header


def _numbers(rows: Sequence[Sequence[object]], columns: Sequence[int]) -> list[list[float | None]]:
    return [[None if r[c] is None else float(r[c]) for c in columns] for r in rows]  # type: ignore[arg-type]


def _frame_numbers(df: pd.DataFrame, columns: Sequence[str]) -> list[list[float | None]]:
    return [
        [None if pd.isna(v) else float(v) for v in row]
        for row in df[list(columns)].itertuples(index=False)
    ]


def _close(got: list[list[float | None]], want: list[list[float | None]]) -> bool:
    return len(got) == len(want) and all(
        len(g) == len(w) and all(_same(a, b) for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


def test_every_figure_in_the_report_equals_the_data_layer(
    report_engine: Engine, built: tuple[ExecutiveReport, ReportFiles]
) -> None:
    """Each figure of every table the report carries (the XLSX holds the same numbers as the
    PDF and CSV), recomputed here straight from the data functions behind the dashboards."""
    report, files = built
    wb = load_workbook(io.BytesIO(files.xlsx))
    start, end, bucket = PERIOD_START, PERIOD_END, report.bucket
    with report_engine.connect() as conn:
        summary = kpis.summarize_kpis(conn, start=start, end=end, now=end)
        at_end = kpis.summarize_kpis_at(conn, start=start, end=end)
        p_start, p_end = report.previous_start, report.previous_end
        p_summary = kpis.summarize_kpis(conn, start=p_start, end=p_end, now=p_end)
        p_at_end = kpis.summarize_kpis_at(conn, start=p_start, end=p_end)
        series = kpis.list_kpi_series(conn, start=start, end=end, bucket=bucket)
        ra = kpis.list_risk_avoided_series(conn, start=start, end=end, bucket=bucket)
        status = agents.count_agents_by(conn, dimension="status")
        snap = kpis.get_kpi_snapshot_at(conn, at=end) or {}
        discovery = agents.list_discovery_rate(conn, start=start, end=end, bucket=bucket)
        per_day = violations.list_violations_per_day(conn, start=start, end=end)
        times = incidents.summarize_incident_times(conn, start=start, end=end)
        drivers = kpis.summarize_trust_drivers(conn, start=start, end=end, limit=10)

    def kpi(src: dict[str, object], summ: kpis.KpiSummary, key: str) -> float | None:
        value = (
            getattr(summ, key) if key in ("risk_avoided_usd", "compliance_sla_pct") else src[key]
        )
        return None if value is None else float(value)  # type: ignore[arg-type]

    rows = {r[0]: r for r in _sheet(wb, "KPIs")}
    assert set(rows) == {k.key for k in report.kpis}
    for key, row in rows.items():
        value, previous = kpi(at_end, summary, str(key)), kpi(p_at_end, p_summary, str(key))
        if not has_kpi_data(p_at_end, violations=p_summary.violations):
            previous = None  # a period before the records: "no data"
        assert _same(None if row[2] is None else float(row[2]), value), key  # type: ignore[arg-type]
        assert _same(None if row[3] is None else float(row[3]), previous), key  # type: ignore[arg-type]
        if value is not None and previous is not None:
            assert _same(float(row[4]), value - previous), key  # type: ignore[arg-type]

    trend_cols = ["trust_score", "sync_freshness_pct", "drift_rate_pct", "compliance_sla_pct"]
    assert _close(
        _numbers(_sheet(wb, "KPI trends"), [1, 2, 3, 4]), _frame_numbers(series, trend_cols)
    )
    ra_rows = _sheet(wb, "Risk avoided")
    assert _close(
        _numbers(ra_rows, [1, 2]), _frame_numbers(ra, ["risk_avoided_usd", "cumulative_usd"])
    )
    assert [r[0] for r in _sheet(wb, "Agents by status")] == list(status["value"])
    assert _close(_numbers(_sheet(wb, "Agents by status"), [1]), _frame_numbers(status, ["agents"]))
    (end_row,) = _sheet(wb, "Agents at period end")
    assert list(end_row) == [
        snap.get("active_agents"),
        snap.get("total_agents"),
        snap.get("quarantined_agents"),
    ]
    assert snap.get("total_agents")
    by_source = discovery.groupby("source")["agents"].sum()
    disc = {r[0]: int(r[1]) for r in _sheet(wb, "Discovery")}  # type: ignore[call-overload]
    assert disc.pop("all") == int(by_source.sum()) > 0
    assert disc == {str(k): int(v) for k, v in by_source.items()}
    day_rows = _sheet(wb, "Violations per day")
    assert _close(_numbers(day_rows, [1, 2]), _frame_numbers(per_day, ["violations", "blocked"]))
    assert [r[3] == "true" for r in day_rows] == [
        int(n) >= 5 for n in per_day["violations"]
    ]  # the guide's 5/day
    assert [tuple(r) for r in _sheet(wb, "Incidents")] == [
        (t.severity, t.count, t.mtta_s, t.mttr_s) for t in times
    ]
    comps = _sheet(wb, "Trust components")
    assert [r[0] for r in comps] == list(drivers.components["component"])
    assert _close(
        _numbers(comps, [1, 2, 3]), _frame_numbers(drivers.components, ["before", "after", "delta"])
    )
    falls = _sheet(wb, "Trust falls")
    assert _close(
        _numbers(falls, [0, 2, 3, 4]),
        _frame_numbers(drivers.agents, ["agent_id", "score_before", "score_after", "delta"]),
    )
    assert len(falls) > 0


def test_a_period_without_data_says_so(report_engine: Engine, tmp_path: Path) -> None:
    """Before the console's records start: "no data", never $0 or 100 % of no violations."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with report_engine.connect() as conn:
        report = build_executive_report(
            conn, start=start, end=datetime(2020, 2, 1, tzinfo=UTC), generated_at=GENERATED
        )
    assert all(k.value is None and k.previous is None for k in report.kpis)
    text = " ".join(pdftotext(render_executive(report).pdf, tmp_path, layout=False).split())
    assert "$0" not in text and "100.0 %" not in text
    assert "no data" in text
    assert "cannot be measured" in text

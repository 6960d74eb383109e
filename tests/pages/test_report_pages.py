"""Reports, SLA Review and Capacity pages (AppTest) as a manager, on the seeded data."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.domain.permissions import Role
from dashboard.reports.executive_render import NO_INCIDENTS
from tests.pages.conftest import new_app, sign_in


def _manager(engine: Engine) -> AppTest:
    return new_app(sign_in(engine, Role.MANAGER))


def _reports(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM reports")).scalar_one())


def test_manager_generates_and_downloads_a_report(app_env: None, seeded_engine: Engine) -> None:
    at = _manager(seeded_engine)
    at.switch_page("pages/reports.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Reports"
    before = _reports(seeded_engine)
    at.date_input(key="reports.generate.first").set_value(date(2026, 11, 18))
    at.date_input(key="reports.generate.last").set_value(date(2026, 11, 19))
    at.button(key="reports.generate.go").click().run()
    assert not at.exception, at.exception
    assert any("Executive summary" in s.value and "is ready" in s.value for s in at.success)
    assert _reports(seeded_engine) == before + 1
    # The new report is listed and offered for download in all three formats.
    at.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Download PDF", "Download CSV", "Download Excel (XLSX)"} <= set(labels)
    with seeded_engine.connect() as conn:
        row = conn.execute(
            text("SELECT generated_by, trigger FROM reports ORDER BY id DESC LIMIT 1")
        ).one()
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'report.generate' AND actor = :a"),
            {"a": row.generated_by},
        ).scalar_one()
    assert row.trigger == "on_demand" and audited == 1


def test_reversed_days_are_refused_plainly(app_env: None, seeded_engine: Engine) -> None:
    at = _manager(seeded_engine)
    at.switch_page("pages/reports.py").run()
    before = _reports(seeded_engine)
    at.date_input(key="reports.generate.first").set_value(date(2026, 11, 19))
    at.date_input(key="reports.generate.last").set_value(date(2026, 11, 1))
    at.button(key="reports.generate.go").click().run()
    assert not at.exception
    assert any("must not be before" in e.value for e in at.error)
    assert _reports(seeded_engine) == before


def test_trust_kpis_page_files_the_executive_report_of_its_range(
    app_env: None, seeded_engine: Engine
) -> None:
    at = _manager(seeded_engine)
    at.switch_page("pages/trust_kpis.py").run()
    assert not at.exception, at.exception
    before = _reports(seeded_engine)
    at.button(key="trust_kpis.report.go").click().run()
    assert not at.exception, at.exception
    assert any("is ready" in s.value for s in at.success)
    assert _reports(seeded_engine) == before + 1


def test_sla_review_page(app_env: None, seeded_engine: Engine) -> None:
    at = _manager(seeded_engine)
    at.switch_page("pages/sla_review.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "SLA Review"
    # The seed covers the current quarter: pick it.
    at.selectbox(key="sla_review.quarter").set_value(0).run()
    assert not at.exception, at.exception
    subheaders = [s.value for s in at.subheader]
    assert subheaders[:4] == [
        "Uptime per component",
        "Incident response by severity",
        "Compliance SLA trend",
        "Breaches",
    ]
    # Incidents are recorded: the section is their table, not the "no incident data" note.
    assert not any(NO_INCIDENTS in i.value for i in at.info)
    assert any(list(df.value.columns)[:2] == ["Severity", "Incidents"] for df in at.dataframe)
    assert len(at.get("plotly_chart")) == 1
    # A quarter before the data: said in words, not "None" uptimes or "100 % of 0 violations".
    at.selectbox(key="sla_review.quarter").set_value(5).run()
    assert not at.exception, at.exception
    notes = [e.value for e in [*at.info, *at.caption]]
    assert any("No health checks were recorded in" in n for n in notes), notes
    assert any("no Compliance SLA figure" in n for n in notes), notes
    assert not any("of 0 violations" in n for n in notes), notes


def test_capacity_page(app_env: None, seeded_engine: Engine) -> None:
    at = _manager(seeded_engine)
    at.switch_page("pages/capacity.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Capacity Planning"
    # Agents, request rate, disk, memory and DB connections come from the seeded history;
    # database size and Redis memory only from the worker's daily samples (none in the seed).
    assert len(at.get("plotly_chart")) == 5
    notes = [e.value for e in [*at.info, *at.caption, *at.markdown]]
    assert sum("not recorded yet" in n for n in notes) == 2
    assert any(n.startswith("Database size: not recorded yet") for n in notes), notes
    texts = " ".join(str(v) for v in at.dataframe[0].value["outlook"])
    assert "Disk" in texts and "Memory" in texts and "DB connections" in texts
    assert any(s.value.startswith("Growth and forecasts") for s in at.subheader)

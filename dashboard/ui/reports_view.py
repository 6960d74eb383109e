"""Reports, SLA review and Capacity pages: generate on demand, list past reports, download them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.base import ActionResult
from dashboard.actions.reports import generate_report_now
from dashboard.data import report_store
from dashboard.domain import periods
from dashboard.domain import thresholds as th
from dashboard.reports.capacity import CapacityReview, build_capacity_review, size_text
from dashboard.reports.executive_render import NO_INCIDENTS, fmt_duration
from dashboard.reports.sla import RESPONSE_TARGETS, SlaReview, build_sla_review, compliance_text
from dashboard.settings import get_settings
from dashboard.ui import auth, charts, components, loaders, resources, staged
from dashboard.ui.markup import plain

PAGE = "reports"
KIND_LABELS = {
    "executive": "Executive summary",
    "sla": "SLA compliance review",
    "capacity": "Capacity planning review",
}
TEXT = st.column_config.TextColumn


def _utc_day(d: date) -> datetime:
    return datetime.combine(d, time(), UTC)


def _default_period(kind: str) -> tuple[date, date]:
    """(first day, last day) shown in the form: last month, last quarter, or the last 90 days."""
    now = resources.now()
    if kind == "sla":
        start, end = periods.last_quarter(now)
    elif kind == "capacity":
        end = _utc_day(now.date())
        start = end - timedelta(days=90)
    else:
        start, end = periods.last_calendar_month(now)
    return start.date(), (end - timedelta(days=1)).date()


def _generate(key: str, kind: str) -> None:
    """on_click of "Generate": the action (authorised, filed, audited) runs outside the script."""
    actor = auth.current_actor()
    first, last = st.session_state.get(f"{key}.first"), st.session_state.get(f"{key}.last")
    if actor is None or not isinstance(first, date) or not isinstance(last, date):
        st.session_state[f"{key}.result"] = ActionResult(
            "invalid", "Choose the first and last day."
        )
        return
    if last < first:
        st.session_state[f"{key}.result"] = ActionResult(
            "invalid", "The last day must not be before the first day."
        )
        return
    st.session_state[f"{key}.result"] = generate_report_now(
        auth.engine(),
        actor,
        kind=kind,
        start=_utc_day(first),
        end=_utc_day(last) + timedelta(days=1),
    )


def generate_form(
    key: str, kind: str | None = None, period: tuple[date, date] | None = None
) -> None:
    """Pick a kind (unless fixed) and a period of whole UTC days, then generate and file it."""
    with st.container(border=True):
        st.markdown("**Generate a report now**")
        cols = st.columns([3, 2, 2, 2])
        if kind is None:
            chosen = cols[0].selectbox(
                "Report", list(KIND_LABELS), format_func=KIND_LABELS.__getitem__, key=f"{key}.kind"
            )
        else:
            chosen = kind
            cols[0].text_input("Report", KIND_LABELS[kind], disabled=True, key=f"{key}.kind_fixed")
        first, last = period or _default_period(str(chosen))
        cols[1].date_input("First day (UTC)", value=first, key=f"{key}.first")
        cols[2].date_input("Last day (UTC)", value=last, key=f"{key}.last")
        cols[3].button(
            "Generate report",
            type="primary",
            key=f"{key}.go",
            on_click=_generate,
            args=(key, str(chosen)),
        )
        staged.show_result(f"{key}.result")
        st.caption("The report is filed under Reports, as PDF, CSV and XLSX.")


def _list_reports(conn: Any, *, kind: str | None, limit: int) -> pd.DataFrame:
    return report_store.list_reports(conn, kind=kind, limit=limit)


def _kind_label(kind: str) -> str:
    # Module-level, not a lambda: widget options travel through pickled session state.
    return "All" if kind == "all" else KIND_LABELS[kind]


def past_reports() -> None:
    """The filed reports, newest first; pick one to download its PDF, CSV or XLSX."""
    kind = st.segmented_control(
        "Kind",
        ["all", *KIND_LABELS],
        default="all",
        format_func=_kind_label,
        key=f"{PAGE}.filter",
    )
    panel = loaders.load(
        "reports_list",
        _list_reports,
        ttl_s=30,
        topics=report_store.REPORT_TOPICS,
        kind=None if kind in (None, "all") else kind,
        limit=100,
    )
    components.banner_for([panel])
    if panel.value is not None and not panel.value.empty:
        shown = panel.value.assign(
            kind=panel.value["kind"].map(KIND_LABELS),
            trigger=panel.value["trigger"].map(
                {"scheduled": "monthly (worker)", "on_demand": "on demand"}
            ),
            period=[
                f"{a:%Y-%m-%d} – {(b - timedelta(seconds=1)):%Y-%m-%d}"
                for a, b in zip(panel.value["period_start"], panel.value["period_end"], strict=True)
            ],
        )[["id", "title", "kind", "period", "generated_at", "generated_by", "trigger"]]
        panel = loaders.Panel(shown, panel.state, panel.message, panel.computed_at)
    components.table(
        panel,
        f"{PAGE}.list",
        title="Filed reports",
        empty="No report has been filed yet: the worker files last month's on the 1st, or "
        "generate one above.",
        file_name="reports.csv",
        column_config={
            "id": st.column_config.NumberColumn("Id"),
            "title": TEXT("Title"),
            "kind": TEXT("Kind"),
            "period": TEXT("Period (UTC)"),
            "generated_at": st.column_config.DatetimeColumn(
                "Generated (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "generated_by": TEXT("By"),
            "trigger": TEXT("How"),
        },
    )
    if panel.value is None or panel.value.empty:
        return
    choices = [
        f"{int(i)} · {t}" for i, t in zip(panel.value["id"], panel.value["title"], strict=True)
    ]
    picked = st.selectbox("Download", choices, key=f"{PAGE}.pick")
    if picked is not None:
        _downloads(int(str(picked).split(" ", 1)[0]))


def _downloads(report_id: int) -> None:
    engine = auth.engine()
    cols = st.columns(3)
    for col, fmt, label in zip(
        cols, ("pdf", "csv", "xlsx"), ("PDF", "CSV", "Excel (XLSX)"), strict=True
    ):
        try:
            with engine.connect() as conn:
                found = report_store.get_report_file(conn, report_id=report_id, fmt=fmt)
        except SQLAlchemyError:
            col.error("The database did not answer: try again in a moment.")
            return
        if found is None:
            col.warning("This report is no longer filed.")
            return
        name, data = found
        col.download_button(
            f"Download {label}",
            data,
            file_name=name,
            mime=report_store.FORMATS[fmt],
            key=f"{PAGE}.dl.{report_id}.{fmt}",
        )


# --- SLA review -------------------------------------------------------------------------
def _quarters(now: datetime, count: int = 6) -> list[tuple[datetime, datetime]]:
    this = periods.quarter_start(now.date())
    out = [(this, now)]
    start = this
    for _ in range(count - 1):
        prev = periods.add_months(start, -3)
        out.append((prev, start))
        start = prev
    return out


def _sla(conn: Any, *, start: datetime, end: datetime, target: float, at: datetime) -> SlaReview:
    return build_sla_review(conn, start=start, end=end, generated_at=at, uptime_target_pct=target)


def sla_page() -> None:
    now = resources.now()
    quarters = _quarters(now)
    labels = {
        i: periods.quarter_label(a) + (" (so far)" if i == 0 else "")
        for i, (a, _) in enumerate(quarters)
    }
    idx = st.selectbox(
        "Quarter", list(labels), index=1, format_func=labels.__getitem__, key="sla_review.quarter"
    )
    start, end = quarters[int(idx or 0)]
    target = get_settings().sla_uptime_target_pct
    panel = loaders.load("sla_review", _sla, ttl_s=300, start=start, end=end, target=target, at=now)
    components.banner_for([panel])
    if panel.value is None:
        return
    r = panel.value
    st.subheader("Uptime per component")
    up = r.uptime.assign(
        status=["–" if m is None else ("met" if m else "missed") for m in r.uptime["met"]]
    )[["component", "uptime_pct", "checks", "status"]]
    checked = bool(len(up)) and int(up["checks"].sum()) > 0
    components.table(
        loaders.Panel(up, "ok" if checked else "empty", None, panel.computed_at),
        "sla_review.uptime",
        title=f"Target {target:g} % (ORCA_SLA_UPTIME_TARGET_PCT)",
        empty=(
            f"No health checks were recorded in {labels[int(idx or 0)]}: "
            "pick a quarter the console was running in."
        ),
        file_name="sla-uptime.csv",
        column_config={
            "component": TEXT("Component"),
            "uptime_pct": st.column_config.NumberColumn("Uptime %", format="%.3f"),
            "checks": st.column_config.NumberColumn("Checks"),
            "status": TEXT("Status"),
        },
    )
    st.subheader("Incident response by severity")
    if r.incidents is None:
        st.info(NO_INCIDENTS)
    else:
        found = {i.severity: i for i in r.incidents}
        rows = [
            {
                "Severity": sev,
                "Incidents": found[sev].count if sev in found else 0,
                "Response target": fmt_duration(t.total_seconds()),
                "MTTA": fmt_duration(found[sev].mtta_s) if sev in found else "–",
                "MTTR": fmt_duration(found[sev].mttr_s) if sev in found else "–",
            }
            for sev, t in RESPONSE_TARGETS.items()
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.subheader("Compliance SLA trend")
    st.caption(
        f"{r.compliance_pct:.1f} % of {r.violations:,} violations resolved within their deadline "
        f"(target {th.TARGET_COMPLIANCE_SLA_PCT:g} %)."
        if r.violations
        else compliance_text(r) + "."
    )
    series = r.compliance_series
    components.chart(
        loaders.Panel(series, "ok" if len(series) else "empty", None, panel.computed_at),
        charts.kpi_builder(
            "compliance_sla_pct", "Compliance SLA (%)", th.TARGET_COMPLIANCE_SLA_PCT
        ),
        "sla_review.trend",
    )
    st.subheader("Breaches")
    b = r.breaches.assign(link=[f"/agent_registry?agent={int(a)}" for a in r.breaches["agent_id"]])
    components.table(
        loaders.Panel(b, "ok" if len(b) else "empty", None, panel.computed_at),
        "sla_review.breaches",
        title="Violations resolved late or still open past their deadline",
        empty="No violation missed its deadline in this quarter.",
        file_name="sla-breaches.csv",
        column_config={
            "id": st.column_config.NumberColumn("Violation"),
            "agent_id": st.column_config.NumberColumn("Agent id"),
            "policy_id": TEXT("Policy"),
            "severity": TEXT("Severity"),
            "occurred_at": st.column_config.DatetimeColumn(
                "Occurred (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "resolved_at": st.column_config.DatetimeColumn(
                "Resolved (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "deadline_at": st.column_config.DatetimeColumn(
                "Deadline (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "agent_name": TEXT("Agent"),
            "link": st.column_config.LinkColumn("Open", display_text="agent"),
        },
    )
    last_day = (min(end, periods.add_months(start, 3)) - timedelta(days=1)).date()
    generate_form(f"sla_review.generate.{start:%Y%m}", "sla", period=(start.date(), last_day))


# --- Capacity ---------------------------------------------------------------------------
def _capacity(conn: Any, *, end: datetime, at: datetime) -> CapacityReview:
    return build_capacity_review(conn, end=end, generated_at=at)


def capacity_page() -> None:
    now = resources.now()
    panel = loaders.load("capacity_review", _capacity, ttl_s=600, end=now, at=now)
    components.banner_for([panel])
    if panel.value is None:
        return
    r = panel.value
    for g in r.metrics:
        if g.forecast is not None and g.forecast.outlook in ("crosses", "crossed"):
            st.warning(plain(g.forecast.sentence()), icon="📈")
    rows = [
        {
            "metric": g.name,
            "latest": size_text(g.latest, g.unit),
            "trend per day": "–" if g.slope_per_day is None else size_text(g.slope_per_day, g.unit),
            "outlook": (
                g.forecast.sentence()
                if g.forecast is not None
                else ("not enough data" if g.slope_per_day is None else "growth only (no limit)")
            ),
        }
        for g in r.metrics
    ]
    st.subheader(
        f"Growth and forecasts · {r.start:%Y-%m-%d} – {(r.end - timedelta(days=1)):%Y-%m-%d}"
    )
    components.table(
        loaders.Panel(pd.DataFrame(rows), "ok", None, panel.computed_at),
        "capacity.forecasts",
        empty="No capacity data yet.",
        file_name="capacity-forecasts.csv",
        column_config={"outlook": TEXT("Outlook", width="large")},
    )
    left, right = st.columns(2)
    for i, g in enumerate(r.metrics):
        df = pd.DataFrame(
            {
                "ts": pd.to_datetime([t for t, _ in g.points], utc=True),
                "value": [v for _, v in g.points],
            }
        )
        limit = None if g.forecast is None else g.forecast.threshold
        with left if i % 2 == 0 else right:
            components.chart(
                loaders.Panel(df, "ok" if len(df) else "empty", None, panel.computed_at),
                partial(charts.capacity_trend, title=g.name, unit=g.unit, limit=limit),
                f"capacity.chart.{g.key}",
                empty=(
                    f"{g.name}: not recorded yet. The worker records one sample a day; "
                    "the review counts whole days, so the first shows tomorrow."
                ),
            )
    components.table(
        loaders.Panel(r.tables, "ok" if len(r.tables) else "empty", None, panel.computed_at),
        "capacity.tables",
        title="Table sizes (latest day)",
        empty="No capacity sample recorded yet: the worker records one a day.",
        file_name="table-sizes.csv",
        column_config={"table": TEXT("Table")},
    )
    generate_form("capacity.generate", "capacity")


# --- Trust KPIs page: the executive summary of the range on screen ------------------------
def _generate_range(key: str, start: datetime, end: datetime) -> None:
    actor = auth.current_actor()
    if actor is None:
        st.session_state[f"{key}.result"] = ActionResult("denied", "Sign in again.")
        return
    st.session_state[f"{key}.result"] = generate_report_now(
        auth.engine(), actor, kind="executive", start=start, end=end
    )


def generate_for_range(key: str, start: datetime, end: datetime) -> None:
    """One button: file the executive summary of [start, end) (the Trust KPIs page's range)."""
    st.button(
        "Generate executive report for this range",
        key=f"{key}.go",
        on_click=_generate_range,
        args=(key, start, end),
        help="Files a PDF, CSV and XLSX of these figures under Reports.",
    )
    staged.show_result(f"{key}.result")

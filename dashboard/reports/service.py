"""Make a report of any kind for a period: the one entry the worker, actions and bench use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from dashboard.data import notifications
from dashboard.data.report_store import ReportFiles
from dashboard.reports.capacity import build_capacity_review, render_capacity
from dashboard.reports.executive import build_executive_report
from dashboard.reports.executive_render import render_executive
from dashboard.reports.sla import build_sla_review, render_sla
from dashboard.settings import get_settings


def generate_report(
    conn: Connection, *, kind: str, start: datetime, end: datetime, generated_at: datetime
) -> ReportFiles:
    """Build and render ``kind`` ("executive", "sla", "capacity") for [start, end)."""
    if kind == "executive":
        return render_executive(
            build_executive_report(conn, start=start, end=end, generated_at=generated_at)
        )
    if kind == "sla":
        target = get_settings().sla_uptime_target_pct
        return render_sla(
            build_sla_review(
                conn, start=start, end=end, generated_at=generated_at, uptime_target_pct=target
            )
        )
    if kind == "capacity":
        return render_capacity(
            build_capacity_review(
                conn, end=end, generated_at=generated_at, days=max(1, (end - start).days)
            )
        )
    raise ValueError(f"unknown report kind {kind[:20]!r}")


def email_report_to_managers(conn: Connection, files: ReportFiles, *, report_id: int) -> bool:
    """Tell the managers a report is filed, through the notification outbox (same transaction).

    THE one place report e-mail goes out: the notifier delivers it to the contact points of
    the "manager" audience (e-mail when an SMTP contact point is configured). The outbox
    carries text, not files, so the message names the report and links to the Reports page,
    where the PDF, CSV and XLSX are. Returns False when this report was announced already.

    Routing is the notifier's (dashboard.domain.notify_rules): today an "info" message reaches
    the broadcast channels only; for it to reach the managers' own e-mail contact points the
    notifier must route info messages of audience "manager" to them (a notifier decision).
    """
    lines = [f"{files.title} is filed (report {report_id})."]
    lines += [f"{k}: {v}" for k, v in files.summary.items() if v is not None][:12]
    lines.append("Download the PDF, CSV or XLSX from the Reports page of the ORCA Ops Console.")
    return notifications.enqueue_notification(
        conn,
        dedupe_key=f"report:{report_id}",
        severity="info",
        group_key=f"report:{files.kind}",
        subject=files.title,
        body="\n".join(lines),
        source="reports",
        audience="manager",
        link="/reports",
        at=files.generated_at,
    )

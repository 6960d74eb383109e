"""Make a report of any kind for a period: the one entry the worker, actions and bench use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from dashboard.data import notifications
from dashboard.data.report_store import ReportFiles
from dashboard.reports.capacity import build_capacity_review, render_capacity
from dashboard.reports.executive import build_executive_report
from dashboard.reports.executive_render import render_executive
from dashboard.reports.mailing import queue_report_mail, report_lines
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
    """Tell the managers a report is filed, in the filing's transaction (``conn``).

    THE one place report e-mail goes out, in two ways: a notice through the notification
    outbox (the broadcast contact points hear of it; it links to the Reports page), and the
    PDF itself to every enabled manager with an e-mail address through the SMTP contact
    point (dashboard.reports.mailing; once per report, logged as deliveries). Returns False
    when this report was announced already.
    """
    queue_report_mail(conn, files, report_id=report_id, now=files.generated_at)
    lines = report_lines(files, report_id=report_id)
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

"""Make a report of any kind for a period: the one entry the worker, actions and bench use."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection

from dashboard.data.report_store import ReportFiles
from dashboard.reports.capacity import build_capacity_review, render_capacity
from dashboard.reports.executive import build_executive_report
from dashboard.reports.executive_render import render_executive
from dashboard.reports.sla import build_sla_review, render_sla
from dashboard.settings import get_settings

log = logging.getLogger(__name__)


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


def email_report_to_managers(files: ReportFiles) -> bool:
    """E-mail ``files`` to the managers through the SMTP contact point, when one is configured.

    THE one place report e-mail goes out. Notifications (contact points, SMTP) are built on
    another branch (``dashboard.data.notifications``); until the lead wires it in here, this
    sends nothing and says so in the log. Returns True when a message was handed to SMTP.
    """
    log.info("report %r filed; e-mail delivery is not wired (no SMTP contact point)", files.title)
    return False

"""The worker's monthly filing: last month's executive summary and capacity review, and in a
quarter's first month last quarter's SLA review; each once (unique per kind and period)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine

from dashboard.data.report_store import has_scheduled_report, record_report
from dashboard.domain import periods
from dashboard.reports.service import email_report_to_managers, generate_report

log = logging.getLogger(__name__)
SCHEDULER = "worker"


def due_reports(now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(kind, start, end) of every report the schedule asks for at ``now``."""
    m_start, m_end = periods.last_calendar_month(now)
    due = [("executive", m_start, m_end), ("capacity", m_end - timedelta(days=90), m_end)]
    q_start, q_end = periods.last_quarter(now)
    if q_end == m_end:  # this is a quarter's first month: the quarter just ended
        due.append(("sla", q_start, q_end))
    return due


def file_scheduled_reports(engine: Engine, *, now: datetime) -> dict[str, int | None]:
    """Generate and file each due report that is not filed yet; e-mail what was filed.

    The existence check is a fast path only: the unique index on scheduled reports settles a
    race between two workers (the second insert files nothing).
    """
    filed: dict[str, int | None] = {}
    for kind, start, end in due_reports(now):
        with engine.begin() as conn:
            if has_scheduled_report(conn, kind=kind, period_start=start, period_end=end):
                continue
            files = generate_report(conn, kind=kind, start=start, end=end, generated_at=now)
            report_id = record_report(
                conn, files=files, trigger="scheduled", generated_by=SCHEDULER
            )
            if report_id is not None:
                # In the filing's transaction: the managers hear of exactly the filed reports.
                email_report_to_managers(conn, files, report_id=report_id)
        filed[kind] = report_id
        if report_id is not None:
            log.info("filed the %s report %s (%s)", kind, report_id, files.title)
    return filed

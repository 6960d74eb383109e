"""Generate a report on demand (Trust KPIs and Reports pages): authorised, filed and audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from dashboard.actions.base import ActionResult, Actor, audit_change, run_authorised
from dashboard.data.errors import InvalidQuery
from dashboard.data.report_store import KINDS, REPORT_TOPICS, record_report
from dashboard.domain.permissions import Role
from dashboard.reports.service import generate_report

MAX_DAYS = 400


def generate_report_now(
    engine: Engine,
    actor: Actor,
    *,
    kind: str,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> ActionResult:
    """Build ``kind`` for [start, end), file it as an on-demand report; count = its id."""
    filed: list[int] = []

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        if kind not in KINDS:
            return ActionResult("invalid", f"Unknown report kind {kind[:20]!r}.")
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            return ActionResult("invalid", "The period must end after it starts.")
        if (end - start).days > MAX_DAYS:
            return ActionResult("invalid", f"A report covers at most {MAX_DAYS} days.")
        try:
            files = generate_report(
                conn, kind=kind, start=start, end=end, generated_at=now or datetime.now(UTC)
            )
        except InvalidQuery as exc:
            return ActionResult("invalid", str(exc))
        report_id = record_report(
            conn, files=files, trigger="on_demand", generated_by=actor.username
        )
        assert report_id is not None  # on-demand reports are never deduplicated
        filed.append(report_id)
        audit_change(
            conn,
            actor,
            roles,
            "report.generate",
            target=("report", str(report_id)),
            after={"kind": kind, "start": start.isoformat(), "end": end.isoformat()},
        )
        return ActionResult("changed", f"{files.title} is ready (report {report_id}).", report_id)

    return run_authorised(
        engine, actor, "report.generate", body, target=("report", kind[:20]), topics=REPORT_TOPICS
    )

"""Stored reports: file one, list the past ones (newest first, keyset), fetch one's file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection, text

from dashboard.data.errors import InvalidQuery
from dashboard.data.sql import frame

KINDS = ("executive", "sla", "capacity")
#: Shared-cache topic of the filed reports: filing one starts a new generation of the list.
REPORT_TOPICS = ("reports",)
TRIGGERS = ("scheduled", "on_demand")
FileFormat = Literal["pdf", "csv", "xlsx"]
FORMATS: dict[str, str] = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class ReportFiles:
    """A generated report ready to be filed: its three renderings and a small JSON summary."""

    kind: str
    title: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    pdf: bytes
    csv: bytes
    xlsx: bytes
    summary: dict[str, Any]


def record_report(
    conn: Connection, *, files: ReportFiles, trigger: str, generated_by: str
) -> int | None:
    """File ``files``; the id, or None when the scheduled report of that period exists already."""
    if files.kind not in KINDS:
        raise InvalidQuery(f"unknown report kind {files.kind[:20]!r}")
    if trigger not in TRIGGERS:
        raise InvalidQuery(f"unknown report trigger {trigger[:20]!r}")
    new_id = conn.execute(
        text("""INSERT INTO reports (kind, trigger, period_start, period_end, title, generated_at,
                    generated_by, pdf, csv, xlsx, summary)
                VALUES (:kind, :trigger, :start, :end, :title, :at, :by, :pdf, :csv, :xlsx,
                        CAST(:summary AS jsonb))
                ON CONFLICT (kind, period_start, period_end) WHERE trigger = 'scheduled'
                DO NOTHING RETURNING id"""),
        {
            "kind": files.kind,
            "trigger": trigger,
            "start": files.period_start,
            "end": files.period_end,
            "title": files.title,
            "at": files.generated_at,
            "by": generated_by,
            "pdf": files.pdf,
            "csv": files.csv,
            "xlsx": files.xlsx,
            "summary": json.dumps(files.summary, default=str),
        },
    ).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def has_scheduled_report(
    conn: Connection, *, kind: str, period_start: datetime, period_end: datetime
) -> bool:
    return bool(
        conn.execute(
            text("""SELECT EXISTS (SELECT 1 FROM reports WHERE trigger = 'scheduled'
                    AND kind = :kind AND period_start = :start AND period_end = :end)"""),
            {"kind": kind, "start": period_start, "end": period_end},
        ).scalar_one()
    )


REPORT_COLUMNS = [
    "id",
    "kind",
    "trigger",
    "title",
    "period_start",
    "period_end",
    "generated_at",
    "generated_by",
    "pdf_bytes",
]


def list_reports(
    conn: Connection,
    *,
    kind: str | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> pd.DataFrame:
    """Past reports, newest first, without their files; ``before`` = (generated_at, id) of the
    last row of the previous page (keyset)."""
    if kind is not None and kind not in KINDS:
        raise InvalidQuery(f"unknown report kind {kind[:20]!r}")
    if not 1 <= limit <= 500:
        raise InvalidQuery("limit must be between 1 and 500")
    at, last_id = before if before is not None else (None, None)
    df = frame(
        conn,
        """SELECT id, kind, trigger, title, period_start, period_end, generated_at, generated_by,
                  octet_length(pdf) AS pdf_bytes
           FROM reports
           WHERE (CAST(:kind AS text) IS NULL OR kind = :kind)
             AND (CAST(:at AS timestamptz) IS NULL OR (generated_at, id) < (:at, :last_id))
           ORDER BY generated_at DESC, id DESC LIMIT :limit""",
        {"kind": kind, "at": at, "last_id": last_id, "limit": limit},
        columns=REPORT_COLUMNS,
    )
    for col in ("period_start", "period_end", "generated_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


def get_report_file(conn: Connection, *, report_id: int, fmt: str) -> tuple[str, bytes] | None:
    """(file name, bytes) of one stored report in ``fmt`` (pdf, csv, xlsx), None if missing."""
    if fmt not in FORMATS:
        raise InvalidQuery(f"unknown report format {fmt[:10]!r}")
    row = conn.execute(
        text(f"SELECT kind, period_start, period_end, {fmt} FROM reports WHERE id = :id"),  # noqa: S608 - fmt from FORMATS
        {"id": report_id},
    ).first()
    if row is None:
        return None
    kind, start, end, data = row
    return f"orca-{kind}-{start:%Y-%m-%d}-{end:%Y-%m-%d}-{report_id}.{fmt}", bytes(data)

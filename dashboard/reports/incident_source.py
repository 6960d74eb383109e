"""THE one place the reports read incidents from (MTTA / MTTR per severity).

``dashboard.data.incidents.summarize_incident_times`` (incidents, issue 10) answers; this
module turns its rows into the reports' own registered dataclass, so a report (and the pages'
shared cache) never depends on the incidents module's types. ``incident_times`` returns None
only when the incidents table cannot be read, and the reports then say plainly that there is
no incident data instead of printing a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from dashboard.data import incidents
from dashboard.data.cache import register


@register
@dataclass(frozen=True)
class IncidentRow:
    """Incidents of one severity opened in the period; mean time to acknowledge / resolve (s)."""

    severity: str
    count: int
    mtta_s: float | None
    mttr_s: float | None


def incident_times(conn: Connection, *, start: datetime, end: datetime) -> list[IncidentRow] | None:
    """Incidents by severity detected in [start, end) (every severity, count 0 when none)."""
    rows = incidents.summarize_incident_times(conn, start=start, end=end)
    return [
        IncidentRow(
            severity=str(r.severity),
            count=int(r.count),
            mtta_s=None if r.mtta_s is None else float(r.mtta_s),
            mttr_s=None if r.mttr_s is None else float(r.mttr_s),
        )
        for r in rows
    ]

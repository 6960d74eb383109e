"""THE one place the reports read incidents from (MTTA / MTTR per severity).

Incidents are built on another branch (``dashboard.data.incidents.summarize_incident_times``).
Until that module is part of the project this returns None and the reports say plainly that
there is no incident data; once it is merged, it is picked up here and nowhere else. At merge
the lead may replace the lookup below with a direct import.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from dashboard.data.cache import register

INCIDENTS_MODULE = "dashboard.data.incidents"


@register
@dataclass(frozen=True)
class IncidentRow:
    """Incidents of one severity opened in the period; mean time to acknowledge / resolve (s)."""

    severity: str
    count: int
    mtta_s: float | None
    mttr_s: float | None


def incidents_available() -> bool:
    return importlib.util.find_spec(INCIDENTS_MODULE) is not None


def incident_times(conn: Connection, *, start: datetime, end: datetime) -> list[IncidentRow] | None:
    """Incidents by severity in [start, end), or None when the project records no incidents."""
    if not incidents_available():
        return None
    module = importlib.import_module(INCIDENTS_MODULE)
    fn = getattr(module, "summarize_incident_times", None)
    if fn is None:
        return None
    rows = fn(conn, start=start, end=end)
    return [
        IncidentRow(
            severity=str(r.severity),
            count=int(r.count),
            mtta_s=None if r.mtta_s is None else float(r.mtta_s),
            mttr_s=None if r.mttr_s is None else float(r.mttr_s),
        )
        for r in rows
    ]

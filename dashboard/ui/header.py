"""The strip at the top of every page: firing P1/P2 alerts, overdue checklist items and who is
on call now.

Reads the alert snapshot the worker keeps in Redis (one GET per page run, no database query),
so it costs nothing however many viewers there are; when Redis is down it says so. The overdue
count and the on-call names come through the shared cache (one computation per TTL for every
viewer and replica, a new one as soon as a sign-off or an on-call change bumps its topic).
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Connection

from dashboard.data import alerts as alert_store
from dashboard.data.checklists import count_overdue
from dashboard.settings import get_settings
from dashboard.ui import loaders, oncall_view, resources
from dashboard.ui.markup import plain

CHECKLIST_TOPICS = ("checklists",)
OVERDUE_TTL_S = 60


def on_call_now() -> str | None:
    """The primary on call now (rotation plus overrides), or None when nobody is / unknown.

    Read through the shared cache (30 s, bumped by on-call changes), so viewers cost one
    Redis GET and the database one query per 30 s at most.
    """
    return oncall_view.primary_now()


def _count_overdue(conn: Connection) -> int:
    return count_overdue(conn, get_settings())


def overdue_items() -> int | None:
    """Overdue maintenance checklist items (as the Checklists page counts them); None when the
    database cannot say."""
    panel = loaders.load(
        "header.overdue", _count_overdue, ttl_s=OVERDUE_TTL_S, topics=CHECKLIST_TOPICS
    )
    return panel.value


def _counts() -> tuple[dict[str, int] | None, float | None]:
    try:
        read = alert_store.list_active(resources.get_redis(resources.redis_url()))
    except Exception:
        return None, None
    if read.degraded:
        return None, None
    counts = {"P1": 0, "P2": 0}
    for a in read.alerts:
        if a.state == "firing" and not a.silenced and a.severity in counts:
            counts[a.severity] += 1
    return counts, read.age_s


def strip() -> None:
    """Render the header strip (called by the router before every page)."""
    counts, age = _counts()
    cols = st.columns([1, 1, 2, 2, 2.6], vertical_alignment="center")
    if counts is None:
        cols[0].caption("Alerts: live state unavailable")
    else:
        p1, p2 = counts["P1"], counts["P2"]
        cols[0].markdown(f":{'red' if p1 else 'gray'}-badge[P1 firing: {p1}]")
        cols[1].markdown(f":{'orange' if p2 else 'gray'}-badge[P2 firing: {p2}]")
        if age is None:
            cols[4].caption("no alert evaluation yet: is the worker running?")
    overdue = overdue_items()
    if overdue is None:
        cols[2].caption("Checklists: unknown")
    else:
        cols[2].page_link(
            "pages/checklists.py",
            label=f"Checklists overdue: {overdue}",
            icon=":material/error:" if overdue else ":material/task_alt:",
            help="Maintenance checklist items past their period (Checklists page)",
        )
    who = on_call_now()
    cols[3].markdown(f"On call now: **{plain(who)}**" if who else "On call now: —")
    if counts is not None and (counts["P1"] or counts["P2"]):
        cols[4].page_link("pages/alerts.py", label="Open Alerts", icon=":material/notifications:")

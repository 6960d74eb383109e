"""The strip at the top of every page: firing P1/P2 alerts and who is on call now.

Reads the alert snapshot the worker keeps in Redis (one GET per page run, no database query),
so it costs nothing however many viewers there are; when Redis is down it says so.
"""

from __future__ import annotations

import streamlit as st

from dashboard.data import alerts as alert_store
from dashboard.ui import oncall_view, resources
from dashboard.ui.markup import plain


def on_call_now() -> str | None:
    """The primary on call now (rotation plus overrides), or None when nobody is / unknown.

    Read through the shared cache (30 s, bumped by on-call changes), so viewers cost one
    Redis GET and the database one query per 30 s at most.
    """
    return oncall_view.primary_now()


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
    cols = st.columns([1, 1, 2, 4], vertical_alignment="center")
    if counts is None:
        cols[0].caption("Alerts: live state unavailable")
    else:
        p1, p2 = counts["P1"], counts["P2"]
        cols[0].markdown(f":{'red' if p1 else 'gray'}-badge[P1 firing: {p1}]")
        cols[1].markdown(f":{'orange' if p2 else 'gray'}-badge[P2 firing: {p2}]")
        if age is None:
            cols[3].caption("no alert evaluation yet: is the worker running?")
    who = on_call_now()
    cols[2].markdown(f"On call now: **{plain(who)}**" if who else "On call now: —")
    if counts is not None and (counts["P1"] or counts["P2"]):
        cols[3].page_link("pages/alerts.py", label="Open Alerts", icon=":material/notifications:")

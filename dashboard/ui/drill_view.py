"""Drill page body: start a fault in the ORCA Core stand-in, watch it, clear it (admins)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult
from dashboard.actions.drills import start_drill, stop_drill
from dashboard.core.faults import API_ROUTES, FAULTS, ROUTES, list_faults
from dashboard.data import live
from dashboard.ui import auth, components, loaders, resources
from dashboard.ui.agent_actions import show_result
from dashboard.ui.markup import plain

PAGE = "drill"
DURATIONS = ("1m", "5m", "10m", "30m", "1h")


def fault_label(name: str) -> str:
    return name.replace("_", " ")


def _redis() -> Any:
    return resources.get_redis(resources.redis_url())


def _run(fn: Any, *args: Any) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", SESSION_ENDED_MESSAGE)
    try:
        result: ActionResult = fn(auth.engine(), _redis(), actor, *args)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    return result


def _start() -> None:
    name = str(st.session_state.get(f"{PAGE}.fault"))
    params: dict[str, Any] = {}
    if name == "error_spike":
        params = {
            "routes": list(st.session_state.get(f"{PAGE}.routes") or API_ROUTES),
            "rate": float(st.session_state.get(f"{PAGE}.rate") or 0.3),
        }
    st.session_state[f"{PAGE}.result"] = _run(
        start_drill, name, str(st.session_state.get(f"{PAGE}.duration")), params or None
    )


def _stop(name: str | None) -> None:
    st.session_state[f"{PAGE}.result"] = _run(stop_drill, name)


def render() -> None:
    show_result(f"{PAGE}.result")
    st.caption(
        "Faults act on the bundled ORCA Core stand-in only, and end by themselves when "
        "their time is up. Watch Service Health while one runs."
    )
    with st.container(border=True):
        cols = st.columns([2, 1, 3])
        name = cols[0].selectbox(
            "Fault", list(FAULTS), key=f"{PAGE}.fault", format_func=fault_label
        )
        cols[1].selectbox("For", DURATIONS, index=1, key=f"{PAGE}.duration")
        cols[2].caption(FAULTS[name].summary)
        if name == "error_spike":
            opts = st.columns([3, 1])
            opts[0].multiselect(
                "Routes", list(ROUTES), default=list(API_ROUTES)[:3], key=f"{PAGE}.routes"
            )
            opts[1].slider("Failing share", 0.05, 1.0, 0.3, 0.05, key=f"{PAGE}.rate")
        st.button("Start drill", type="primary", key=f"{PAGE}.start", on_click=_start)
    st.subheader("Running now")
    try:
        active = list_faults(_redis())
    except Exception:  # Redis down: say so, the page stays up
        st.error("Redis is unreachable: running drills cannot be listed.")
        return
    if not active:
        st.info("No drill is running.")
    for fault in active:
        row = st.columns([3, 2, 2, 1])
        row[0].markdown(f"**{plain(fault_label(fault.name))}**")
        row[1].caption(f"{fault.remaining_s:.0f} s left")
        row[2].caption(f"started by {plain(fault.by or 'unknown')}")
        row[3].button("Stop", key=f"{PAGE}.stop.{fault.name}", on_click=_stop, args=(fault.name,))
    if active:
        st.button("Stop all drills", key=f"{PAGE}.stop_all", on_click=_stop, args=(None,))
    st.subheader("What the probes see")
    probes = live.read_probe_results(_redis())
    rows = [{"component": k, **v} for k, v in (probes.value or {}).items()]
    state: loaders.State = "error" if probes.degraded else "ok" if rows else "empty"
    components.table(
        loaders.Panel(pd.DataFrame(rows), state, "Redis is unreachable: no probe results.", None),
        f"{PAGE}.probes",
        file_name="probes.csv",
        empty="No probe results yet: the worker writes them every few seconds.",
    )

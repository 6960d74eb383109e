"""Troubleshooting page body: the guide's four flows as guided steps, each showing the data
it asks about and pointing at the next step or the runbook that fixes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.data import kpis, live, troubleshooting
from dashboard.data.ops_checks import settings_complete_check
from dashboard.settings import get_settings
from dashboard.ui import components, loaders, resources
from dashboard.ui.markup import plain

PAGE = "troubleshooting"


def _step(n: int, question: str) -> Any:
    box = st.container(border=True)
    box.markdown(f"**Step {n}. {plain(question)}**")
    return box


def _next(box: Any, text_: str, runbook: str | None = None) -> None:
    hint = f"Next: {text_}"
    if runbook:
        hint += f" — runbook `{runbook}` on the Runbooks page"
    box.caption(hint)


def _df(panel: loaders.Panel[pd.DataFrame], key: str, empty: str) -> None:
    components.table(panel, key, empty=empty, file_name=f"{key}.csv")


def _wont_start() -> None:
    s = get_settings()
    box = _step(1, "Is ORCA Core answering, and what does its log say?")
    probes = live.read_probe_results(resources.get_redis(resources.redis_url())).value or {}
    core = probes.get("orca_core") or {}
    box.markdown(
        plain(f"Probe: {core.get('status', 'unknown')} — {core.get('message', 'no probe yet')}")
    )
    log = troubleshooting.tail_log(
        [s.state_dir / "control" / "orca-core.log", s.state_dir / "up.log"], lines=30
    )
    if log.path:
        box.caption(plain(f"Last lines of {log.path}"))
        box.code("\n".join(log.lines) or "(empty)", language=None)
    else:
        box.info(plain(log.note))
    _next(box, "if it crashed or hangs, restart it", "service_restart")
    box = _step(2, "Are the settings complete (environment)?")
    check = settings_complete_check(s)
    (box.success if check.verdict == "ok" else box.error)(plain(check.detail))
    _next(box, "the Doctor page runs every check with its fix")
    box = _step(3, "Is the database reachable, or is the port taken?")
    box.markdown(
        plain(f"ORCA Core should listen on {s.core_url}; the console's DB check is on Doctor.")
    )
    _next(box, "connection problems", "db_connections")


def _memory(at: Any) -> None:
    box = _step(1, "Is memory climbing over time (last 6 hours)?")
    panel = loaders.load(
        f"{PAGE}.memory",
        troubleshooting.list_memory_trend,
        ttl_s=30,
        start=at - timedelta(hours=6),
        end=at,
    )
    if panel.value is not None and not panel.value.empty:
        box.line_chart(panel.value, x="ts", y="memory_pct", color="instance")
        growth = troubleshooting.memory_growth_per_hour(panel.value)
        if growth is not None:
            box.markdown(plain(f"Trend: {growth:+.2f} percentage points per hour."))
    else:
        box.info(plain(panel.message or "No memory samples in the last 6 hours."))
    _next(
        box,
        "a steady climb is a leak (unclosed connections, listeners): restart to relieve it, then fix",
        "service_restart",
    )
    box = _step(2, "Are connections piling up?")
    _next(box, "idle-in-transaction sessions hold memory", "db_connections")


def _slow(at: Any) -> None:
    box = _step(1, "Which endpoints are slow (last hour, by p95)?")
    with box:
        _df(
            loaders.load(
                f"{PAGE}.slow",
                troubleshooting.list_slow_endpoints,
                ttl_s=30,
                start=at - timedelta(hours=1),
                end=at,
            ),
            f"{PAGE}.slow_table",
            "No requests in the last hour.",
        )
    _next(box, "p95 over 500 ms on one route points at its queries")
    box = _step(2, "Which queries are slowest (pg_stat_statements)?")
    panel = loaders.load(f"{PAGE}.queries", troubleshooting.list_slowest_queries, ttl_s=60)
    found = panel.value
    if found is None:
        box.error(plain(panel.message or "The database could not be asked."))
    elif not found.available:
        box.warning(plain(found.note))
    else:
        box.caption(plain(found.note))
        box.dataframe(found.rows, hide_index=True)
    _next(box, "add the missing index, batch N+1 queries; errors rising too", "high_error_rate")


def _trust(at: Any) -> None:
    box = _step(1, "Which agents and components pulled the Trust Score down (24 h)?")
    panel = loaders.load(
        f"{PAGE}.drivers",
        kpis.summarize_trust_drivers,
        ttl_s=60,
        start=at - timedelta(hours=24),
        end=at,
    )
    if panel.value is not None:
        box.dataframe(panel.value.components, hide_index=True)
        box.dataframe(panel.value.agents.head(10), hide_index=True)
    else:
        box.info(plain(panel.message or "No trust data."))
    _next(box, "failing agents: check them in the Agent Registry, quarantine if needed")
    box = _step(2, "Which policies were violated (24 h)?")
    with box:
        _df(
            loaders.load(
                f"{PAGE}.violations",
                troubleshooting.list_recent_violations,
                ttl_s=60,
                start=at - timedelta(hours=24),
                end=at,
            ),
            f"{PAGE}.violations_table",
            "No policy violations in the last 24 hours.",
        )
    _next(box, "review and adjust the policies that fire most")
    box = _step(3, "Is data stale (open sync gaps)?")
    with box:
        _df(
            loaders.load(f"{PAGE}.gaps", kpis.list_sync_gaps, ttl_s=60, limit=20),
            f"{PAGE}.gaps_table",
            "No open sync gaps: data is flowing.",
        )
    _next(box, "stale sources: check the data source, then let the next sync run (Trust KPIs page)")


def render() -> None:
    at = resources.now()
    tabs = st.tabs(
        ["Service won't start", "High memory", "Slow API responses", "Trust score dropping"]
    )
    for i, tab in enumerate(tabs):
        with tab:
            try:
                if i == 0:
                    _wont_start()
                else:
                    (_memory, _slow, _trust)[i - 1](at)
            except Exception:
                st.error("This flow's data is unavailable right now (database or Redis down).")

"""The page list as data: title, script, icon and the permission needed to open it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    permission: str
    default: bool = False


PAGES = (
    PageSpec(
        "pages/service_health.py",
        "Service Health",
        ":material/monitor_heart:",
        "view_dashboards",
        default=True,
    ),
    PageSpec("pages/trust_kpis.py", "Trust KPIs", ":material/insights:", "view_dashboards"),
    PageSpec(
        "pages/agent_registry.py", "Agent Registry", ":material/smart_toy:", "view_dashboards"
    ),
)


def build_navigation(allowed: frozenset[str] | None = None) -> st.navigation:  # type: ignore[valid-type]
    """st.navigation over the pages the user may open (all of them until sign-in exists)."""
    pages = [
        st.Page(spec.path, title=spec.title, icon=spec.icon, default=spec.default)
        for spec in PAGES
        if allowed is None or spec.permission in allowed
    ]
    return st.navigation(pages)

"""The page list as data: id, script, title, icon and the permission needed to open it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import streamlit as st

from dashboard import telemetry
from dashboard.domain.permissions import PAGE_PERMISSIONS, Role, pages_for
from dashboard.ui import header


@dataclass(frozen=True)
class PageSpec:
    page_id: str
    title: str
    icon: str
    section: str
    default: bool = False

    @property
    def path(self) -> str:
        return f"pages/{self.page_id}.py"

    @property
    def permission(self) -> str:
        """The permission named for this page in the one permission table."""
        return PAGE_PERMISSIONS[self.page_id].value


# The menu, in the order people look for things: the dashboards, what on-call does during an
# incident, the maintenance routine, the managers' reports, then administration.
DASHBOARDS, ON_CALL, OPERATIONS, REPORTS, ADMIN = (
    "Dashboards",
    "On-call",
    "Operations",
    "Reports",
    "Administration",
)
PAGES = (
    PageSpec(
        "service_health", "Service Health", ":material/monitor_heart:", DASHBOARDS, default=True
    ),
    PageSpec("trust_kpis", "Trust KPIs", ":material/insights:", DASHBOARDS),
    PageSpec("agent_registry", "Agent Registry", ":material/smart_toy:", DASHBOARDS),
    PageSpec("review_queue", "Review Queue", ":material/fact_check:", DASHBOARDS),
    PageSpec("alerts", "Alerts", ":material/notifications:", ON_CALL),
    PageSpec("incidents", "Incidents", ":material/emergency:", ON_CALL),
    PageSpec("oncall", "On-call", ":material/support_agent:", ON_CALL),
    PageSpec("runbooks", "Runbooks", ":material/play_circle:", ON_CALL),
    PageSpec("troubleshooting", "Troubleshooting", ":material/troubleshoot:", ON_CALL),
    PageSpec("backups", "Backups", ":material/backup:", OPERATIONS),
    PageSpec("checklists", "Checklists", ":material/checklist:", OPERATIONS),
    PageSpec("doctor", "Doctor", ":material/stethoscope:", OPERATIONS),
    PageSpec("drill", "Drill", ":material/crisis_alert:", OPERATIONS),
    PageSpec("reports", "Reports", ":material/summarize:", REPORTS),
    PageSpec("sla_review", "SLA Review", ":material/verified:", REPORTS),
    PageSpec("capacity", "Capacity", ":material/trending_up:", REPORTS),
    PageSpec("contact_points", "Contact points", ":material/campaign:", ADMIN),
    PageSpec("users", "Users", ":material/group:", ADMIN),
    PageSpec("audit", "Audit Trail", ":material/history:", ADMIN),
    PageSpec("account", "My account", ":material/key:", ADMIN),
)


def run_for(roles: Iterable[Role]) -> str | None:
    """Route this run for a user with ``roles``; return the page id refused, if any.

    Every page is registered (so a page opened by URL is recognised, not 'not found'), the
    menu lists only the pages the user may open, and a refused page is not run.
    """
    permitted = set(pages_for(roles))
    registered = {
        spec.page_id: st.Page(spec.path, title=spec.title, icon=spec.icon, default=spec.default)
        for spec in PAGES
    }
    current = st.navigation(list(registered.values()), position="hidden")
    with st.sidebar:
        section = None
        for spec in PAGES:
            if spec.page_id in permitted:
                if spec.section != section:
                    section = spec.section
                    st.caption(section)  # our own constant, not data
                st.page_link(registered[spec.page_id], label=spec.title, icon=spec.icon)
    page_id = next(
        (pid for pid, page in registered.items() if page.url_path == current.url_path), None
    )
    if page_id is None or page_id not in permitted:
        return page_id or "unknown"
    header.strip()
    with telemetry.page_run(page_id):
        current.run()
    return None

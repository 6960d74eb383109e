"""One agent's detail: identity, owner, status history, trust over time, violations, syncs, drift."""

from __future__ import annotations

import json

import streamlit as st

from dashboard.actions.agents import AGENT_TOPICS
from dashboard.data import agents
from dashboard.ui import agent_actions, charts, components, loaders, resources
from dashboard.ui.markup import shown
from dashboard.ui.trust_view import COMPONENTS

PAGE = "agent_detail"


def parse_agent_id(raw: str | None) -> int | None:
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def render(agent_id: int) -> None:
    detail = loaders.load(
        "agent_detail",
        agents.get_agent_detail,
        agent_id=agent_id,
        now=resources.now(),
        ttl_s=15,
        topics=AGENT_TOPICS,
    )
    if st.button("← Back to the registry", key=f"{PAGE}.back"):
        del st.query_params["agent"]
        st.rerun()
    components.banner_for([detail])
    if detail.state == "error":
        components.frame(detail)
        return
    if detail.value is None:
        st.warning(f"No agent has id {agent_id}.")
        return
    d = detail.value
    a = d.agent
    # The name is untrusted input: st.text shows it as characters, never as markup, and its
    # bidi or control characters as visible [U+XXXX] marks.
    st.caption("Agent")
    st.text(shown(a["name"]))
    cols = components.tile_columns(5)
    cols[0].metric("Status", str(a["status"]), border=True)
    cols[1].metric(
        "Trust score", "–" if a["trust_score"] is None else f"{a['trust_score']:.1f}", border=True
    )
    cols[2].metric("Type", str(a["type"]), border=True)
    cols[3].metric("Vendor", str(a["vendor"]), border=True)
    cols[4].metric("Compliance tier", str(a["compliance_tier"]), border=True)
    agent_actions.single_control(a)
    with st.container(border=True):
        info = {
            "id": a["id"],
            "external id": a["external_id"],
            "discovered via": a["discovery_source"],
            "owner": a["owner"],
            "model": a["model"],
            "discovered": str(a["discovered_at"]),
            "last seen": str(a["last_seen_at"]),
            "quarantine reason": a["quarantine_reason"],
            "quarantined by": a["quarantined_by"],
            "reviewed by": a["reviewed_by"],
            "missing since": str(a["missing_since"]) if a["missing_since"] else None,
            "version": a["version"],
        }
        st.code(
            json.dumps({k: v for k, v in info.items() if v is not None}, indent=2, default=str),
            language="json",
        )
        st.caption("metadata (from discovery, untrusted)")
        st.code(json.dumps(a["metadata"], indent=2, default=str)[:5000], language="json")
    p = detail
    left, right = st.columns(2)
    with left:
        components.chart(
            loaders.Panel(d.trust_history, _state(d.trust_history), None, p.computed_at),
            charts.agent_trust,
            f"{PAGE}.trust",
            empty="No trust score recorded for this agent yet.",
        )
    with right:
        th = d.trust_history.rename(columns={"computed_at": "ts"})
        components.chart(
            loaders.Panel(th, _state(th), None, p.computed_at),
            lambda df: charts.trust_components(df, COMPONENTS),
            f"{PAGE}.components",
            empty="No trust components recorded for this agent yet.",
        )
    for title, df, name, empty in (
        ("Status history", d.status_history, "status_history", "No status change recorded."),
        ("Policy violations", d.violations, "violations", "No policy violation recorded."),
        ("Data sources and lag", d.data_sources, "data_sources", "No data source synced yet."),
        ("Drift detections", d.drift, "drift", "No drift detected."),
    ):
        components.table(
            loaders.Panel(df, _state(df), None, p.computed_at),
            f"{PAGE}.{name}",
            title=title,
            file_name=f"agent_{agent_id}_{name}.csv",
            empty=empty,
            column_config={
                "reason": st.column_config.TextColumn("reason"),
                "name": st.column_config.TextColumn("name"),
            },
        )


def _state(df: object) -> loaders.State:
    return "empty" if getattr(df, "empty", True) else "ok"
